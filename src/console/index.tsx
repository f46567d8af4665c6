import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { deleteCookie, setCookie } from "hono/cookie";
import { addSuppression, listSuppressions, removeSuppression } from "../engine/recipients/suppressions";
import { exportScenarioResults } from "../engine/runs/export";
import { draftScenario, runScenario, stopScenario } from "../engine/scenarios/lifecycle";
import { listScenarios } from "../engine/scenarios/scenarios";
import { getConfig } from "../env";
import { AppError, describeError, notFound } from "../errors";
import { secretsEqual } from "../http/auth";
import { signInBlocked, signInFailed } from "../http/sign-in-throttle";
import { parseId } from "../ids";
import type { ConsoleEnv } from "./context";
import { emailBodyHtml, emailPage, scenarioPage, timelinePage } from "./data";
import { currentSession, notSignedOut, requireSession, safeNext } from "./guard";
import { EmailPage } from "./pages/email";
import { forbiddenPage, problemPage, sendPage } from "./pages/errors";
import { LoginPage } from "./pages/login";
import { ScenarioPage } from "./pages/scenario";
import { ScenariosPage } from "./pages/scenarios";
import { SuppressionsPage } from "./pages/suppressions";
import { TimelinePage } from "./pages/timeline";
import { consistentReads, forgetBookmark } from "./reads";
import { consoleCsp, EMAIL_BODY_CSP, fromSameOrigin, securityHeaders } from "./security";
import { createSession, revokeSession, SESSION_COOKIE, SESSION_TTL_SECONDS, type Session } from "./session";
import { STYLESHEET } from "./style";

const COOKIE_OPTIONS = { path: "/console", httpOnly: true, secure: true, sameSite: "Strict" } as const;

/** The sign-in page again, with the 429 and the wait: too many failed sign-ins from this address. */
function tooMany(c: Context<ConsoleEnv>, next: string, seconds: number) {
  c.header("Retry-After", String(seconds));
  const error = `Too many failed sign-ins from this address: try again in ${seconds} seconds.`;
  return sendPage(c, <LoginPage disabled={false} next={next} error={error} />, 429);
}

/** A numeric id from the path, or the console's 404. */
function idOf(text: string | undefined, what: string): number {
  const id = parseId(text);
  if (id === null) throw notFound(what, JSON.stringify(text ?? ""));
  return id;
}

const cursorOf = (text: string | undefined) => parseId(text) ?? null;

/**
 * The console, server-rendered with Hono's JSX and no script: sign in with the admin token, see the scenarios, their
 * activity trees with stats and trends, each record's timeline and each e-mail; run, stop or put back in draft.
 * See docs/console.md for the session, CSRF and CSP design.
 */
export function consoleRoutes() {
  const routes = new Hono<ConsoleEnv>();
  routes.onError((err, c) => {
    // Signed in (the error came from a page), the problem page keeps the navigation.
    const csrf = (c.get("session") as Session | undefined)?.csrf;
    if (err instanceof AppError && err.status < 500) {
      const title = err.code === "not_found" ? "Not found" : err.code === "conflict" ? "Not possible now" : "Refused";
      return sendPage(c, problemPage(title, err.message, csrf), err.status);
    }
    if (err instanceof AppError) return sendPage(c, problemPage("Misconfigured", err.message), err.status);
    console.error(`console ${c.req.method} ${c.req.path}: ${describeError(err)}`);
    return sendPage(c, problemPage("Something went wrong", "The error was logged; try again."), 500);
  });
  routes.use("*", securityHeaders);
  routes.use("*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("Payload too large", 413) }));

  routes.get("/style.css", (c) =>
    c.body(STYLESHEET, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=3600" }),
  );

  routes.get("/login", async (c) => {
    const { adminToken } = getConfig(c.env);
    const next = safeNext(c.req.query("next"));
    if (!adminToken) return sendPage(c, <LoginPage disabled={true} next={next} />, 503);
    if (await currentSession(c)) return c.redirect(next, 303);
    return sendPage(c, <LoginPage disabled={false} next={next} loggedOut={c.req.query("signed_out") === "1"} />);
  });

  routes.post("/login", async (c) => {
    if (!fromSameOrigin(c)) return sendPage(c, forbiddenPage("The form was not sent from this console."), 403);
    const { adminToken } = getConfig(c.env);
    if (!adminToken) return sendPage(c, <LoginPage disabled={true} next="/console/scenarios" />, 503);
    const form = await c.req.parseBody();
    const next = safeNext(typeof form.next === "string" ? form.next : undefined);
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const blocked = await signInBlocked(c.req.raw);
    if (blocked !== null) return tooMany(c, next, blocked);
    if (!(await secretsEqual(token, adminToken))) {
      const wait = token ? await signInFailed(c.env, c.req.raw) : null;
      if (wait !== null) return tooMany(c, next, wait);
      const error = token ? "This is not the admin token." : "Enter the admin token.";
      return sendPage(c, <LoginPage disabled={false} next={next} error={error} />, 401);
    }
    const session = await createSession(adminToken);
    setCookie(c, SESSION_COOKIE, session.cookie, {
      ...COOKIE_OPTIONS,
      maxAge: SESSION_TTL_SECONDS,
      expires: new Date(session.expires * 1000),
    });
    return c.redirect(next, 303);
  });

  // Everything below needs a session; every POST below also its CSRF token. Its D1 work runs in one D1 session.
  routes.use("*", requireSession);
  routes.use("*", consistentReads);
  routes.use("*", notSignedOut);

  routes.post("/logout", async (c) => {
    // The cookie is signed, not stored: deleting it in this browser is not enough, the session itself ends.
    await revokeSession(c.get("engine").d1, c.get("session"));
    deleteCookie(c, SESSION_COOKIE, COOKIE_OPTIONS);
    forgetBookmark(c);
    return c.redirect("/console/login?signed_out=1", 303);
  });

  routes.get("/", (c) => c.redirect("/console/scenarios", 303));

  routes.get("/scenarios", async (c) => {
    const page = await listScenarios(c.get("engine"), { limit: 50, cursor: cursorOf(c.req.query("cursor")) });
    return sendPage(
      c,
      <ScenariosPage scenarios={page.items} nextCursor={page.nextCursor} csrf={c.get("session").csrf} />,
    );
  });

  routes.get("/scenarios/:id", async (c) => {
    const id = idOf(c.req.param("id"), "scenario");
    const data = await scenarioPage(c.get("engine"), id, cursorOf(c.req.query("cursor")));
    return sendPage(c, <ScenarioPage data={data} csrf={c.get("session").csrf} />);
  });

  // The scenario's results, one row per recipient (the API's GET /api/scenarios/{id}/export, for a signed-in session).
  routes.get("/scenarios/:id/export", async (c) => {
    const id = idOf(c.req.param("id"), "scenario");
    const format = c.req.query("format") === "jsonl" ? "jsonl" : "csv";
    const stream = await exportScenarioResults(c.get("engine"), id, format);
    return c.body(stream, 200, {
      "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="scenario-${id}.${format}"`,
      "cache-control": "no-store",
    });
  });

  routes.post("/scenarios/:id/:action{run|stop|draft}", async (c) => {
    const e = c.get("engine");
    const id = idOf(c.req.param("id"), "scenario");
    const action = c.req.param("action") as "run" | "stop" | "draft";
    await { run: runScenario, stop: stopScenario, draft: draftScenario }[action](e, id);
    const form = await c.req.parseBody();
    const back = typeof form.back === "string" ? form.back : undefined;
    return c.redirect(back === "/console/scenarios" ? back : `/console/scenarios/${id}`, 303);
  });

  routes.get("/scenario-records/:id", async (c) => {
    const data = await timelinePage(
      c.get("engine"),
      idOf(c.req.param("id"), "scenario record"),
      cursorOf(c.req.query("hits_after")),
    );
    return sendPage(c, <TimelinePage data={data} csrf={c.get("session").csrf} />);
  });

  routes.get("/emails/:id", async (c) => {
    const data = await emailPage(c.get("engine"), idOf(c.req.param("id"), "e-mail"));
    c.header("Content-Security-Policy", consoleCsp({ frames: true }));
    return sendPage(c, <EmailPage data={data} csrf={c.get("session").csrf} />);
  });

  routes.get("/emails/:id/body", async (c) => {
    const html = await emailBodyHtml(c.get("engine"), idOf(c.req.param("id"), "e-mail"));
    return c.html(html ?? "<p>The body of this e-mail is not in the archive.</p>", 200, {
      "Content-Security-Policy": EMAIL_BODY_CSP,
      "X-Frame-Options": "SAMEORIGIN",
    });
  });

  routes.get("/suppressions", async (c) => {
    const cursor = c.req.query("cursor") ?? null;
    const page = await listSuppressions(c.get("engine").db, { limit: 100, cursor });
    const notice = { added: "The address is on the list.", removed: "The address is off the list." }[
      c.req.query("done") ?? ""
    ];
    return sendPage(
      c,
      <SuppressionsPage items={page.items} nextCursor={page.nextCursor} csrf={c.get("session").csrf} notice={notice} />,
    );
  });

  routes.post("/suppressions", async (c) => {
    const form = await c.req.parseBody();
    const address = typeof form.address === "string" ? form.address : "";
    const source = typeof form.source === "string" && form.source.trim() ? form.source.trim() : null;
    await addSuppression(c.get("engine").db, { address, reason: "manual", source }, Date.now());
    return c.redirect("/console/suppressions?done=added", 303);
  });

  routes.post("/suppressions/remove", async (c) => {
    const form = await c.req.parseBody();
    await removeSuppression(c.get("engine").db, typeof form.address === "string" ? form.address : "");
    return c.redirect("/console/suppressions?done=removed", 303);
  });

  routes.all("*", (c) =>
    sendPage(c, problemPage("Not found", `No console page at ${c.req.path}.`, c.get("session").csrf), 404),
  );
  return routes;
}
