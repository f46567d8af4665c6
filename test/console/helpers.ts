import { createExecutionContext, SELF, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { TOKEN } from "../helpers";

export const ORIGIN = "https://ma.example";

export interface Browser {
  /** The session cookie as a browser would send it back (`console_session=…`). */
  cookie: string | null;
}

/** A console request as a browser makes it: same-origin headers on POST, the session cookie, no redirect following. */
export async function visit(
  path: string,
  init: {
    method?: string;
    cookie?: string | null;
    form?: Record<string, string>;
    headers?: Record<string, string>;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  let body: string | undefined;
  if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    headers.origin = ORIGIN;
    headers["sec-fetch-site"] = "same-origin";
    body = new URLSearchParams(init.form).toString();
  }
  return SELF.fetch(`${ORIGIN}${path}`, {
    method: init.method ?? (init.form ? "POST" : "GET"),
    headers: { ...headers, ...init.headers },
    body,
    redirect: "manual",
  });
}

/** Signs in with the admin token; returns the cookie to send back and the Set-Cookie header as sent. */
export async function login(token = TOKEN): Promise<{ cookie: string; setCookie: string }> {
  const res = await visit("/console/login", { form: { token, next: "/console/scenarios" } });
  if (res.status !== 303) throw new Error(`login: ${res.status} ${await res.text()}`);
  const setCookie = res.headers.get("set-cookie") ?? "";
  return { cookie: setCookie.split(";")[0] as string, setCookie };
}

/** The CSRF token the page's forms carry. */
export function csrfOf(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error("no CSRF field on the page");
  return m[1] as string;
}

/** Signs in and reads a page: the cookie, the page's CSRF token and its HTML. */
export async function signedIn(path = "/console/scenarios") {
  const { cookie } = await login();
  const res = await visit(path, { cookie });
  const html = await res.text();
  return { cookie, csrf: csrfOf(html), html };
}

/** Calls the Worker with other bindings (no ADMIN_TOKEN, a rotated one) and waits for its deferred work. */
export async function visitWithEnv(path: string, overrides: Record<string, unknown>, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${ORIGIN}${path}`, { redirect: "manual", ...init }),
    { ...env, ...overrides } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

export interface StatHit {
  /** The innermost scope around the stat: `activity:3` (a tree node), `scenario:1` (a row, the page's summary). */
  scope: string | null;
  stat: string;
  value: string;
}

/**
 * Reads the numbers a page shows (`data-stat` / `data-value`), in their scope (`data-activity`, `data-scenario`), and
 * the nesting of the activity tree, with the runtime's HTMLRewriter: there is no DOM in workerd.
 */
export async function readPage(html: string) {
  const stats: StatHit[] = [];
  const parents = new Map<string, string | null>();
  const stack: string[] = [];
  await new HTMLRewriter()
    .on("[data-activity], [data-scenario]", {
      element(el) {
        const activity = el.getAttribute("data-activity");
        const scope = activity ? `activity:${activity}` : `scenario:${el.getAttribute("data-scenario")}`;
        if (activity)
          parents.set(
            activity,
            [...stack]
              .reverse()
              .find((s) => s.startsWith("activity:"))
              ?.slice(9) ?? null,
          );
        stack.push(scope);
        el.onEndTag(() => {
          stack.pop();
        });
      },
    })
    .on("[data-stat]", {
      element(el) {
        stats.push({
          scope: stack.at(-1) ?? null,
          stat: el.getAttribute("data-stat") as string,
          value: el.getAttribute("data-value") as string,
        });
      },
    })
    .transform(new Response(html))
    .text();
  const statOf = (scope: string, stat: string) => {
    const found = stats.find((s) => s.scope === scope && s.stat === stat)?.value;
    return found === undefined ? undefined : Number(found);
  };
  return { stats, parents, statOf };
}
