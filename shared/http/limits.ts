/**
 * The largest request body we read: protocol messages are a few KB. API Gateway's HTTP APIs cannot
 * be set tighter than their fixed 10 MB, so the edge middleware enforces this in the function, and
 * the local gateway answers the same way before invoking it.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

export const TOO_LARGE = { statusCode: 413, message: "Request Entity Too Large" } as const;
