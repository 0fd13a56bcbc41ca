/**
 * The largest request body the local gateway reads on any route (API Gateway's HTTP APIs cannot be
 * set tighter than their fixed 10 MB, so in the cloud the function enforces its own limit).
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The largest body a Google-facing route reads, enforced by the edge before anything is decoded.
 * A real request is 1–3 KB of JSON, sealed and base64url-encoded under 8 KB even with RSA 4096 keys
 * and several recipients and signers; 64 KiB leaves eight times that and bounds what an
 * unauthenticated sender can make us parse and decrypt.
 */
export const GOOGLE_MAX_BODY_BYTES = 64 * 1024;

export const TOO_LARGE = { statusCode: 413, message: "Request Entity Too Large" } as const;
