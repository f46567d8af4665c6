import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { getConfig } from "../env";
import type { ConsoleEnv } from "./context";
import { forbiddenPage, sendPage } from "./pages/errors";
import { fromSameOrigin } from "./security";
import { csrfMatches, isRevoked, readSession, SESSION_COOKIE, type Session } from "./session";

/** The signed-in session of this request, or null (also when the console is disabled: no ADMIN_TOKEN). */
export async function currentSession(c: Context<ConsoleEnv>): Promise<Session | null> {
  const { adminToken } = getConfig(c.env);
  return adminToken ? readSession(adminToken, getCookie(c, SESSION_COOKIE)) : null;
}

/** Where the login page sends back to: only a console path, never another site (`//evil.example`, `/\evil`). */
export function safeNext(next: string | undefined): string {
  return next && /^\/console\/[^/\\]/.test(next) && !/[\s\\]/.test(next) ? next : "/console/scenarios";
}

/**
 * Every console page needs a session: a page without one redirects to the login page (and back afterwards). Every
 * POST must come from the console's origin, carry a valid session and that session's CSRF token, or it is refused
 * with a 403 before anything runs.
 */
export const requireSession: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const session = await currentSession(c);
  if (c.req.method === "POST") {
    if (!fromSameOrigin(c)) return sendPage(c, forbiddenPage("The form was not sent from this console."), 403);
    if (!session) return sendPage(c, forbiddenPage("You are not signed in, or your session has ended."), 403);
    const form = await c.req.parseBody();
    if (!(await csrfMatches(session, form.csrf))) {
      return sendPage(c, forbiddenPage("The form's security token is missing or out of date."), 403);
    }
  } else if (!session) {
    const url = new URL(c.req.url);
    return c.redirect(`/console/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
  }
  c.set("session", session as Session);
  await next();
};

/**
 * After requireSession and the request's D1 session (consistentReads): a session that was signed out is refused like
 * a missing one, a page sent to the login, a form refused. Read through the request's D1 session, after the checks
 * that need no D1 work, so a refused request still runs none.
 */
export const notSignedOut: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  if (await isRevoked(c.get("engine").d1, c.get("session"))) {
    if (c.req.method === "POST") {
      return sendPage(c, forbiddenPage("You are not signed in, or your session has ended."), 403);
    }
    const url = new URL(c.req.url);
    return c.redirect(`/console/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
  }
  await next();
};
