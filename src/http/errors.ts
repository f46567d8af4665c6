import type { Context } from "hono";
import { DomainError } from "../domain/types";
import { AppError, describeError, type ErrorCode, errorBody, STATUS } from "../errors";

/** Maps any thrown error to the JSON error body; unexpected errors are logged and never leak a stack trace. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof AppError) return c.json(errorBody(err.code, err.message), err.status);
  if (err instanceof DomainError) return c.json(errorBody("invalid_input", err.message), 400);
  if (err instanceof SyntaxError && /JSON/i.test(err.message)) {
    return c.json(errorBody("invalid_input", "request body is not valid JSON"), 400);
  }
  if ("getResponse" in err && typeof (err as { getResponse?: unknown }).getResponse === "function") {
    // Hono's HTTPException (malformed JSON body, body limit, …).
    const status = (err as unknown as { status: number }).status;
    const code: ErrorCode = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "invalid_input";
    return c.json(errorBody(code, err.message || "invalid request"), STATUS[code]);
  }
  console.error(`unhandled error on ${c.req.method} ${c.req.path}: ${describeError(err)}`);
  return c.json(errorBody("internal", "internal error"), 500);
}
