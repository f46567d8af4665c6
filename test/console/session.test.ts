import { describe, expect, it } from "vitest";
import { createSession, readSession, SESSION_TTL_SECONDS } from "../../src/console/session";
import { TOKEN } from "../helpers";
import { csrfOf, login, ORIGIN, signedIn, visit, visitWithEnv } from "./helpers";

function expectConsoleHeaders(res: Response) {
  const csp = res.headers.get("content-security-policy") ?? "";
  for (const directive of [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ]) {
    expect(csp).toContain(directive);
  }
  expect(csp).not.toContain("script-src");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("x-frame-options")).toBe("DENY");
  expect(res.headers.get("cache-control")).toBe("no-store");
}

describe("console login", () => {
  it("shows an accessible login form", async () => {
    const res = await visit("/console/login");
    expect(res.status).toBe(200);
    expectConsoleHeaders(res);
    const html = await res.text();
    expect(html).toMatch(/^<!doctype html>\s*<html lang="en">/);
    expect(html).toContain("<h1>Sign in to the console</h1>");
    expect(html).toContain('<label for="token">Admin token</label>');
    expect(html).toMatch(/<input type="password" id="token" name="token" required=""/);
    expect(html).toContain('<form method="post" action="/console/login">');
    expect(html).toContain('<link rel="stylesheet" href="/console/style.css"/>');
  });

  it("serves its stylesheet, with a visible focus style and a phone layout", async () => {
    const res = await visit("/console/style.css");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const css = await res.text();
    expect(css).toContain(":focus-visible");
    expect(css).toContain("@media (max-width: 48rem)");
  });

  it("sets an HttpOnly, Secure, SameSite=Strict session cookie on /console with an expiry", async () => {
    const res = await visit("/console/login", { form: { token: TOKEN, next: "/console/scenarios/1" } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/scenarios/1");
    const setCookie = res.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^console_session=\d+\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43};/);
    const attributes = setCookie.split(/;\s*/).slice(1);
    expect(attributes).toEqual(
      expect.arrayContaining([
        `Max-Age=${SESSION_TTL_SECONDS}`,
        "Path=/console",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
      ]),
    );
    const expires = attributes.find((a) => a.startsWith("Expires="));
    const ms = Date.parse(expires?.slice(8) ?? "");
    expect(Math.abs(ms - (Date.now() + SESSION_TTL_SECONDS * 1000))).toBeLessThan(60_000);
  });

  it("refuses a wrong token, says so, and sets no cookie", async () => {
    for (const token of ["wrong-token", ""]) {
      const res = await visit("/console/login", { form: { token, next: "" } });
      expect(res.status).toBe(401);
      expect(res.headers.get("set-cookie")).toBeNull();
      const html = await res.text();
      expect(html).toContain('role="alert"');
      expect(html).toContain('aria-invalid="true"');
    }
  });

  it("refuses a login form posted from another site", async () => {
    const cross = await visit("/console/login", {
      form: { token: TOKEN },
      headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" },
    });
    expect(cross.status).toBe(403);
    expect(cross.headers.get("set-cookie")).toBeNull();
    const site = await visit("/console/login", { form: { token: TOKEN }, headers: { "sec-fetch-site": "same-site" } });
    expect(site.status).toBe(403);
  });

  it("only sends back to console pages after signing in", async () => {
    for (const next of ["https://evil.example/", "//evil.example/console/", "/\\evil.example", "/api/scenarios"]) {
      const res = await visit("/console/login", { form: { token: TOKEN, next } });
      expect(res.headers.get("location"), next).toBe("/console/scenarios");
    }
  });

  it("sends a signed-in visitor of the login page on", async () => {
    const { cookie } = await login();
    const res = await visit("/console/login?next=/console/scenarios", { cookie });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/scenarios");
  });
});

describe("console sessions", () => {
  it("every page needs one: without it, a redirect to the login page and back", async () => {
    for (const path of [
      "/console",
      "/console/scenarios",
      "/console/scenarios/1",
      "/console/scenario-records/1",
      "/console/emails/1",
      "/console/emails/1/body",
      "/console/nope",
    ]) {
      const res = await visit(path);
      expect(res.status, path).toBe(303);
      expect(res.headers.get("location")).toBe(`/console/login?next=${encodeURIComponent(path)}`);
    }
  });

  it("refuses a forged, re-signed, expired or foreign cookie", async () => {
    const { cookie } = await login();
    const [name, value] = cookie.split("=") as [string, string];
    const [expires, nonce, signature] = value.split(".") as [string, string, string];
    const other = await createSession("another-admin-token");
    const old = await createSession(TOKEN, Date.now() - (SESSION_TTL_SECONDS + 60) * 1000);
    const forged = [
      `${name}=${Number(expires) + 3600}.${nonce}.${signature}`, // a longer expiry, same signature
      `${name}=${expires}.${"A".repeat(22)}.${signature}`, // another nonce
      `${name}=${expires}.${nonce}.${signature.replace(/^./, (c) => (c === "A" ? "B" : "A"))}`, // another signature
      `${name}=${other.cookie}`, // signed with another token
      `${name}=${old.cookie}`, // expired
      `${name}=admin`,
    ];
    for (const bad of forged) {
      const res = await visit("/console/scenarios", { cookie: bad });
      expect(res.status, bad).toBe(303);
      expect(res.headers.get("location")).toMatch(/^\/console\/login/);
    }
    expect((await visit("/console/scenarios", { cookie })).status).toBe(200);
  });

  it("ends every session when the admin token rotates", async () => {
    const { cookie } = await login();
    const res = await visitWithEnv(
      "/console/scenarios",
      { ADMIN_TOKEN: "rotated-admin-token" },
      { headers: { cookie } },
    );
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/login?next=%2Fconsole%2Fscenarios");
  });

  it("binds the CSRF token to the session", async () => {
    const a = await createSession(TOKEN);
    const b = await createSession(TOKEN);
    expect(a.csrf).not.toBe(b.csrf);
    expect((await readSession(TOKEN, a.cookie))?.csrf).toBe(a.csrf);
    expect(await readSession("another-admin-token", a.cookie)).toBeNull();
  });

  it("logs out with the CSRF token only", async () => {
    const { cookie, csrf } = await signedIn();
    const refused = await visit("/console/logout", { cookie, form: { csrf: "nope" } });
    expect(refused.status).toBe(403);
    const res = await visit("/console/logout", { cookie, form: { csrf } });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/console/login?signed_out=1");
    expect(res.headers.get("set-cookie")).toMatch(/^console_session=; Max-Age=0; Path=\/console; HttpOnly; Secure;/);
    const page = await (await visit("/console/login?signed_out=1")).text();
    expect(page).toContain("You are signed out.");
  });
});

describe("a console without ADMIN_TOKEN", () => {
  it("says it is disabled and lets nobody in", async () => {
    const page = await visitWithEnv("/console/login", { ADMIN_TOKEN: undefined });
    expect(page.status).toBe(503);
    const html = await page.text();
    expect(html).toContain("The console is disabled");
    expect(html).not.toContain("<form");
    const post = await visitWithEnv(
      "/console/login",
      { ADMIN_TOKEN: undefined },
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin: ORIGIN },
        body: "token=",
      },
    );
    expect(post.status).toBe(503);
    expect(post.headers.get("set-cookie")).toBeNull();
    const scenarios = await visitWithEnv("/console/scenarios", { ADMIN_TOKEN: undefined });
    expect(scenarios.status).toBe(303);
  });
});

describe("console pages", () => {
  it("carry the console's headers and the CSRF token in every form", async () => {
    const { cookie } = await login();
    const res = await visit("/console/scenarios", { cookie });
    expect(res.status).toBe(200);
    expectConsoleHeaders(res);
    const html = await res.text();
    const forms = html.match(/<form[^>]*method="post"[^>]*>[\s\S]*?<\/form>/g) ?? [];
    expect(forms.length).toBeGreaterThan(0);
    for (const form of forms) expect(form).toContain(`name="csrf" value="${csrfOf(html)}"`);
  });
});
