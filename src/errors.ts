import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { DomainError } from "./domain/types";

export type ErrorCode =
  | "invalid_input"
  | "unauthorized"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "rate_limited"
  | "misconfigured"
  | "internal";

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  invalid_input: 400,
  unauthorized: 401,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  misconfigured: 500,
  internal: 500,
};

/** The one error of the service: a code, a status derived from it, and a message meant for the caller. */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "AppError";
    this.status = STATUS[code];
  }
}

export const invalid = (message: string) => new AppError("invalid_input", message);
export const notFound = (what: string, id: string | number) => new AppError("not_found", `${what} ${id} not found`);
export const conflict = (message: string) => new AppError("conflict", message);

/** The JSON error body used everywhere: `{"error": {"code", "message"}}`. */
export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/** Formats a zod error as `field.path: problem; …`, with array indices in brackets (`records[3].id`). */
export function formatZodError(error: ZodError, root?: string): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = formatPath(root ? [root, ...issue.path] : issue.path);
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

const LOGGED_MESSAGE = 300;
const LOGGED_STACK_LINES = 6;

/**
 * An error as it goes to the logs: its name, its message cut to 300 characters and a few stack frames. Messages can
 * carry what a request sent (a D1 error quoting a value, a parser quoting its input): logs never get a whole body.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return clip(String(err));
  const frames = (err.stack ?? "")
    .split("\n")
    .filter((line) => /^\s+at /.test(line))
    .slice(0, LOGGED_STACK_LINES);
  return [`${err.name}: ${clip(err.message)}`, ...frames.map((f) => clip(f))].join("\n");
}

function clip(text: string): string {
  return text.length > LOGGED_MESSAGE ? `${text.slice(0, LOGGED_MESSAGE)}… (${text.length} characters)` : text;
}

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
