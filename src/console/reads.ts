import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { sessionDatabase, sessionFrom } from "../db/session";
import { getConfig } from "../env";
import { buildServices } from "../services";
import type { ConsoleEnv } from "./context";

/** The cookie carrying the D1 bookmark of the browser's last console request. */
export const BOOKMARK_COOKIE = "d1_bookmark";

/**
 * Builds the engine of a console request over one D1 session, started from the bookmark the browser sent back (any
 * replica when it sent none), and gives the browser the session's bookmark afterwards. With read replication enabled,
 * a page may be read from a nearby replica, yet never from one older than the user's own last write: a scenario just
 * run shows as running, an address just added is on the list.
 *
 * A cookie that is not a bookmark starts from the primary (`sessionFrom`). A well-formed one that D1 still refuses at
 * the first query fails that one page; a failed page clears the cookie, so the next one starts afresh.
 */
export const consistentReads: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const sent = getCookie(c, BOOKMARK_COOKIE);
  const session = sessionFrom(c.env.DB, sent);
  c.set(
    "engine",
    buildServices(c.env, { waitUntil: (p) => c.executionCtx.waitUntil(p), d1: sessionDatabase(session) }),
  );
  await next();
  if (c.error && c.res.status >= 500) {
    if (sent !== undefined) forgetBookmark(c);
    return;
  }
  // A page that cleared the bookmark (signing out) keeps it cleared.
  if (c.res.headers.getSetCookie().some((h) => h.startsWith(`${BOOKMARK_COOKIE}=;`))) return;
  const bookmark = session.getBookmark();
  if (bookmark && bookmark !== sent) setCookie(c, BOOKMARK_COOKIE, bookmark, cookieOptions(c));
};

/** Clears the bookmark cookie (after a failed page, and on signing out). */
export function forgetBookmark(c: Context<ConsoleEnv>): void {
  deleteCookie(c, BOOKMARK_COOKIE, cookieOptions(c));
}

/** `Secure` except with LOCAL_MODE (plain http); `Lax` is enough for a cookie that grants nothing. */
const cookieOptions = (c: Context<ConsoleEnv>) =>
  ({ path: "/console", httpOnly: true, secure: !getConfig(c.env).localMode, sameSite: "Lax" }) as const;
