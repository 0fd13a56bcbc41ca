/** The protocol's ErrorResponse codes and the HTTP status each one travels with (gsp-protocol.md). */
export const ErrorResponseCode = {
  INVALID_API_VERSION: 400,
  INVALID_PAYLOAD_SIGNATURE: 401,
  INVALID_PAYLOAD_ENCRYPTION: 400,
  REQUEST_TIMESTAMP_OUT_OF_RANGE: 400,
  INVALID_IDENTIFIER: 404,
  IDEMPOTENCY_VIOLATION: 412,
  INVALID_FIELD_VALUE: 400,
  MISSING_REQUIRED_FIELD: 400,
  PRECONDITION_VIOLATION: 400,
  USER_ACTION_IN_PROGRESS: 423,
  INVALID_DECRYPTED_REQUEST: 400,
  FORBIDDEN: 403,
} as const;
export type ErrorResponseCode = keyof typeof ErrorResponseCode;

/**
 * A request the protocol says we must refuse. `description` goes to Google's support staff:
 * it names fields and kinds of identifier, never their values.
 */
export class ProtocolError extends Error {
  readonly code: ErrorResponseCode;
  readonly status: number;
  readonly description: string;

  constructor(code: ErrorResponseCode, description: string) {
    super(`${code}: ${description}`);
    this.name = "ProtocolError";
    this.code = code;
    this.status = ErrorResponseCode[code];
    this.description = description;
  }
}

export const missingField = (path: string) => new ProtocolError("MISSING_REQUIRED_FIELD", `missing ${path}`);
export const invalidField = (path: string, why = "is not an allowed value") =>
  new ProtocolError("INVALID_FIELD_VALUE", `${path} ${why}`);
export const unknownIdentifier = (kind: string) => new ProtocolError("INVALID_IDENTIFIER", `unknown ${kind}`);
