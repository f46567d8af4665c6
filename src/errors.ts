import type { ZodError } from "zod";

export type ErrorCode =
  | "invalid_input"
  | "unauthorized"
  | "not_found"
  | "conflict"
  | "payload_too_large"
  | "rate_limited"
  | "misconfigured"
  | "internal";

/** The HTTP statuses of the service's errors. */
export type ErrorStatus = 400 | 401 | 404 | 409 | 413 | 429 | 500;

export const STATUS: Record<ErrorCode, ErrorStatus> = {
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
  readonly status: ErrorStatus;
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
