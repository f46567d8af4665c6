import type { Context, MiddlewareHandler } from "hono";
import { getConfig } from "../env";
import { AppError } from "../errors";
import type { AppEnv } from "./router";
import { signInBlocked, signInFailed, tooManyMessage } from "./sign-in-throttle";

const encoder = new TextEncoder();

/** Compares two secrets in constant time (digests first, so lengths do not leak either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

function rateLimited(c: Context, seconds: number): AppError {
  c.header("Retry-After", String(seconds));
  return new AppError("rate_limited", tooManyMessage(seconds));
}

/**
 * Bearer-token auth for the admin API. With no ADMIN_TOKEN configured, every call is refused and the message says so:
 * the API is closed by default.
 */
export const requireAdminToken: MiddlewareHandler<AppEnv> = async (c, next) => {
  const { adminToken } = getConfig(c.env);
  if (!adminToken) {
    throw new AppError(
      "unauthorized",
      "the admin API is disabled: no ADMIN_TOKEN is configured (set it with `wrangler secret put ADMIN_TOKEN`, or in .dev.vars locally)",
    );
  }
  const blocked = await signInBlocked(c.req.raw);
  if (blocked !== null) throw rateLimited(c, blocked);
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(.+)$/i.exec(header);
  if (!match) {
    c.header("WWW-Authenticate", 'Bearer realm="admin"');
    throw new AppError("unauthorized", "missing bearer token: send Authorization: Bearer <ADMIN_TOKEN>");
  }
  if (!(await secretsEqual(match[1]?.trim() ?? "", adminToken))) {
    const wait = await signInFailed(c.env, c.req.raw);
    if (wait !== null) throw rateLimited(c, wait);
    c.header("WWW-Authenticate", 'Bearer realm="admin", error="invalid_token"');
    throw new AppError("unauthorized", "invalid bearer token");
  }
  await next();
};
