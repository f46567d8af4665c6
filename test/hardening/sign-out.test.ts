import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signedIn, visit } from "../console/helpers";

describe("signing out of the console ends the session", () => {
  it("the cookie of a signed-out session is refused afterwards, even replayed", async () => {
    const { cookie, csrf } = await signedIn();
    expect((await visit("/console/scenarios", { cookie })).status).toBe(200);
    expect((await visit("/console/logout", { cookie, form: { csrf } })).status).toBe(303);
    // The same cookie, kept by someone else: a page sends to the login, a form is refused.
    const page = await visit("/console/scenarios", { cookie });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toContain("/console/login");
    expect((await visit("/console/logout", { cookie, form: { csrf } })).status).toBe(403);
    // Another session is not affected.
    const other = await signedIn();
    expect((await visit("/console/scenarios", { cookie: other.cookie })).status).toBe(200);
    const row = await env.DB.prepare("SELECT count(*) AS n FROM console_sign_outs").first<{ n: number }>();
    expect(row?.n).toBe(1);
  });
});
