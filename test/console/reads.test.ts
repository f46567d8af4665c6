import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BOOKMARK_COOKIE } from "../../src/console/reads";
import { isBookmark } from "../../src/db/session";
import worker from "../../src/index";
import { recordingD1 } from "../db/recording-d1";
import { csrfOf, login, ORIGIN } from "./helpers";

/** A console request as a browser makes it, with the given cookies and bindings; its Set-Cookie headers by name. */
async function visit(
  path: string,
  init: { cookies?: Record<string, string>; form?: Record<string, string>; env?: Record<string, unknown> } = {},
) {
  const headers: Record<string, string> = {};
  const cookies = Object.entries(init.cookies ?? {});
  if (cookies.length) headers.cookie = cookies.map(([k, v]) => `${k}=${v}`).join("; ");
  let body: string | undefined;
  if (init.form) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    headers.origin = ORIGIN;
    headers["sec-fetch-site"] = "same-origin";
    body = new URLSearchParams(init.form).toString();
  }
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${ORIGIN}${path}`, { method: init.form ? "POST" : "GET", headers, body, redirect: "manual" }),
    { ...env, ...init.env } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const set = new Map(res.headers.getSetCookie().map((c) => [c.slice(0, c.indexOf("=")), c] as const));
  return { res, html: await res.text(), set };
}

/** The value a Set-Cookie header sets. */
const cookieValue = (setCookie: string | undefined) => setCookie?.slice(setCookie.indexOf("=") + 1).split(";")[0];

async function session() {
  const { cookie } = await login();
  return { console_session: cookie.slice(cookie.indexOf("=") + 1) };
}

describe("console reads in one D1 session", () => {
  it("gives the browser the session's bookmark in an HttpOnly, SameSite=Lax cookie on /console", async () => {
    const { res, set } = await visit("/console/scenarios", { cookies: await session() });
    expect(res.status).toBe(200);
    const cookie = set.get(BOOKMARK_COOKIE);
    expect(isBookmark(cookieValue(cookie))).toBe(true);
    const attributes = (cookie ?? "").split(/;\s*/).slice(1);
    expect(attributes).toEqual(expect.arrayContaining(["Path=/console", "HttpOnly", "SameSite=Lax"]));
    // LOCAL_MODE (the tests) serves plain http: no Secure there.
    expect(attributes).not.toContain("Secure");
  });

  it("marks the cookie Secure on a deployed Worker", async () => {
    const deployed = {
      LOCAL_MODE: undefined,
      EMAIL_FROM: "Marketing <news@mail.shop-42.com>",
      WEB_HOSTNAME: "go.shop-42.com",
      AUTOMATION_BASE: undefined,
      MAIL_TRANSPORT: "mailchannels",
      MAILCHANNELS_API_KEY: "key",
    };
    const { res, set } = await visit("/console/scenarios", { cookies: await session(), env: deployed });
    expect(res.status).toBe(200);
    expect((set.get(BOOKMARK_COOKIE) ?? "").split(/;\s*/)).toContain("Secure");
  });

  it("starts anywhere without a bookmark, and from the browser's bookmark when it sends one", async () => {
    const cookies = await session();
    const first = recordingD1(env.DB);
    const one = await visit("/console/scenarios", { cookies, env: { DB: first.db } });
    expect(first.seen.starts).toEqual(["first-unconstrained"]);
    expect(first.seen.onSession.length).toBeGreaterThan(0);
    expect(first.seen.onBinding).toEqual([]);
    const bookmark = cookieValue(one.set.get(BOOKMARK_COOKIE)) as string;
    const second = recordingD1(env.DB);
    await visit("/console/scenarios", { cookies: { ...cookies, [BOOKMARK_COOKIE]: bookmark }, env: { DB: second.db } });
    expect(second.seen.starts).toEqual([bookmark]);
  });

  it("reads the user's own write on the next page: an address added is on the list", async () => {
    const cookies = await session();
    const page = await visit("/console/suppressions", { cookies });
    const written = recordingD1(env.DB);
    const post = await visit("/console/suppressions", {
      cookies,
      form: { csrf: csrfOf(page.html), address: "just-added@example.com" },
      env: { DB: written.db },
    });
    expect(post.res.status).toBe(303);
    expect(written.seen.onSession.some((s) => /insert into "suppressions"/i.test(s))).toBe(true);
    expect(written.seen.onBinding).toEqual([]);
    const bookmark = cookieValue(post.set.get(BOOKMARK_COOKIE)) as string;
    expect(isBookmark(bookmark)).toBe(true);

    const read = recordingD1(env.DB);
    const next = await visit("/console/suppressions?done=added", {
      cookies: { ...cookies, [BOOKMARK_COOKIE]: bookmark },
      env: { DB: read.db },
    });
    expect(read.seen.starts).toEqual([bookmark]);
    expect(next.html).toContain("just-added@example.com");
  });

  it("a malformed bookmark cookie gives the normal page, read from the primary, and a new bookmark", async () => {
    const cookies = await session();
    for (const bad of ["garbage", "0".repeat(300), "%00%22", "00000085-0000024c-00004c6d-XYZ"]) {
      const { db, seen } = recordingD1(env.DB);
      const { res, html, set } = await visit("/console/scenarios", {
        cookies: { ...cookies, [BOOKMARK_COOKIE]: bad },
        env: { DB: db },
      });
      expect(res.status, bad).toBe(200);
      expect(html).toContain("<h1>Scenarios</h1>");
      expect(seen.starts).toEqual(["first-primary"]);
      expect(isBookmark(cookieValue(set.get(BOOKMARK_COOKIE)))).toBe(true);
    }
  });

  it("a bookmark D1 refuses fails that page only: the cookie is cleared", async () => {
    const cookies = await session();
    const refused = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683";
    const { db } = recordingD1(env.DB, { refuse: (start) => start === refused });
    const failed = await visit("/console/scenarios", {
      cookies: { ...cookies, [BOOKMARK_COOKIE]: refused },
      env: { DB: db },
    });
    expect(failed.res.status).toBe(500);
    expect(failed.set.get(BOOKMARK_COOKIE)).toMatch(/^d1_bookmark=; Max-Age=0; Path=\/console;/);
    const next = await visit("/console/scenarios", { cookies, env: { DB: db } });
    expect(next.res.status).toBe(200);
  });

  it("signing out clears the bookmark with the session", async () => {
    const cookies = await session();
    const page = await visit("/console/scenarios", { cookies });
    const bookmark = cookieValue(page.set.get(BOOKMARK_COOKIE)) as string;
    const out = await visit("/console/logout", {
      cookies: { ...cookies, [BOOKMARK_COOKIE]: bookmark },
      form: { csrf: csrfOf(page.html) },
    });
    expect(out.res.status).toBe(303);
    expect(out.set.get("console_session")).toMatch(/^console_session=; Max-Age=0;/);
    expect(out.set.get(BOOKMARK_COOKIE)).toMatch(/^d1_bookmark=; Max-Age=0; Path=\/console;/);
  });

  it("a bookmark cookie opens nothing: signed-out and refused requests run no D1 work and get no bookmark", async () => {
    const { db, seen } = recordingD1(env.DB);
    const bookmark = { [BOOKMARK_COOKIE]: "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683" };
    const signedOut = await visit("/console/scenarios", { cookies: bookmark, env: { DB: db } });
    expect(signedOut.res.status).toBe(303);
    const forged = await visit("/console/suppressions", {
      cookies: { ...(await session()), ...bookmark },
      form: { csrf: "forged", address: "x@example.com" },
      env: { DB: db },
    });
    expect(forged.res.status).toBe(403);
    const loginPage = await visit("/console/login", { cookies: bookmark, env: { DB: db } });
    expect(loginPage.res.status).toBe(200);
    for (const { set } of [signedOut, forged, loginPage]) expect(set.has(BOOKMARK_COOKIE)).toBe(false);
    expect(seen).toEqual({ starts: [], onSession: [], onBinding: [] });
    // Signed in, the same cookie is the session's start.
    const signedIn = await visit("/console/scenarios", {
      cookies: { ...(await session()), ...bookmark },
      env: { DB: db },
    });
    expect(seen.starts).toEqual([bookmark[BOOKMARK_COOKIE]]);
    expect(signedIn.res.status).toBe(200);
  });
});
