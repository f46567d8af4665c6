import type { Context, MiddlewareHandler } from "hono";
import type { ConsoleEnv } from "./context";

/**
 * The console's Content-Security-Policy: nothing loads but its own stylesheet and data: images (the sparklines are
 * inline SVG elements, which need no source), no script at all, forms only post back to the console, and nothing
 * frames it. The e-mail page adds `frame-src 'self'` for its sandboxed frame.
 */
export function consoleCsp(options: { frames?: boolean } = {}): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    ...(options.frames ? ["frame-src 'self'"] : []),
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/**
 * The archived e-mail is served into a sandboxed frame: `sandbox` gives it an opaque origin with no script, no forms,
 * no popups and no top navigation; only inline styles and data: images load, so no remote image (and no tracking
 * pixel) is fetched by looking at it; only the console may frame it.
 */
export const EMAIL_BODY_CSP =
  "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; form-action 'none'; " +
  "base-uri 'none'; frame-ancestors 'self'";

/** Headers of every console response; a handler may replace the CSP (the e-mail page and its frame do). */
export const securityHeaders: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  await next();
  const h = c.res.headers;
  if (!h.has("Content-Security-Policy")) h.set("Content-Security-Policy", consoleCsp());
  if (!h.has("X-Frame-Options")) h.set("X-Frame-Options", "DENY");
  if (!h.has("Cache-Control")) h.set("Cache-Control", "no-store");
  h.set("X-Content-Type-Options", "nosniff");
  h.set("Referrer-Policy", "same-origin");
  h.set("Cross-Origin-Opener-Policy", "same-origin");
  h.set("Cross-Origin-Resource-Policy", "same-origin");
  h.set("X-Robots-Tag", "noindex, nofollow");
};

/**
 * Whether a POST comes from the console's own pages, by the headers browsers set and pages cannot: `Sec-Fetch-Site`
 * must be `same-origin` and `Origin` the console's origin, when the browser sends them. This is the first line; the
 * session's CSRF token is the second (and the only one for clients that send neither header).
 */
export function fromSameOrigin(c: Context): boolean {
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return false;
  const origin = c.req.header("origin");
  return origin === undefined || origin === new URL(c.req.url).origin;
}
