import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { addLink, request, sentEmail } from "./fixtures";

const ONE_CLICK = {
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: "List-Unsubscribe=One-Click",
};
const FORM_POST = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" };

async function blocked(scenarioRecordId: number): Promise<number | undefined> {
  const row = await env.DB.prepare("SELECT blocked FROM scenario_records WHERE id = ?")
    .bind(scenarioRecordId)
    .first<{ blocked: number }>();
  return row?.blocked;
}

async function unsubscriptions(scenarioId: number, partyId: string): Promise<number | undefined> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM unsubscriptions WHERE scenario_id = ? AND party_id = ?")
    .bind(scenarioId, partyId)
    .first<{ n: number }>();
  return row?.n;
}

function expectSecurePage(res: Response) {
  expect(res.headers.get("content-type")).toContain("text/html");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("form-action 'self'");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  expect(res.headers.get("cache-control")).toBe("no-store");
}

describe("unsubscribe", () => {
  it("GET shows a confirmation page naming the scenario, and changes nothing", async () => {
    const sent = await sentEmail({ scenarioName: "Spring newsletter" });
    for (const method of ["GET", "HEAD"]) {
      const res = await request(`/u/${sent.token}`, { method });
      expect(res.status).toBe(200);
      expectSecurePage(res);
    }
    const page = await (await request(`/u/${sent.token}`)).text();
    expect(page).toContain('<html lang="en">');
    expect(page).toContain("Unsubscribe from “Spring newsletter”?");
    expect(page).toMatch(new RegExp(`<form method="post" action="/u/${sent.token}"`));
    expect(page).toContain('<button type="submit">Unsubscribe</button>');
    expect(await blocked(sent.scenarioRecordId)).toBe(0);
  });

  it("POST blocks the scenario record, once, and says so", async () => {
    const sent = await sentEmail({ unsubscribable: true });
    for (let i = 0; i < 2; i++) {
      const res = await request(`/u/${sent.token}`, FORM_POST);
      expect(res.status).toBe(200);
      expectSecurePage(res);
      expect(await res.text()).toContain("You are unsubscribed");
    }
    expect(await blocked(sent.scenarioRecordId)).toBe(1);
    expect(await unsubscriptions(sent.scenarioId, sent.partyId)).toBe(1);
    const { results } = await env.DB.prepare("SELECT kind, scenario_id FROM hits WHERE scenario_id = ?")
      .bind(sent.scenarioId)
      .all();
    expect(results).toEqual([
      { kind: "unsubscribe", scenario_id: sent.scenarioId },
      { kind: "unsubscribe", scenario_id: sent.scenarioId },
    ]);
  });

  it("does not unsubscribe the party when the scenario is not unsubscribable", async () => {
    const sent = await sentEmail({ unsubscribable: false });
    await request(`/u/${sent.token}`, FORM_POST);
    expect(await blocked(sent.scenarioRecordId)).toBe(1);
    expect(await unsubscriptions(sent.scenarioId, sent.partyId)).toBe(0);
  });

  it("an RFC 8058 one-click POST blocks and answers 200, even with a next page", async () => {
    const sent = await sentEmail();
    const next = await addLink("next", sent.emailId, sent.recordActivityId, "https://shop.example/goodbye");
    const res = await request(`/u/${sent.token}/${next}`, ONE_CLICK);
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(await blocked(sent.scenarioRecordId)).toBe(1);

    const multipart = await sentEmail();
    const form = new FormData();
    form.set("List-Unsubscribe", "One-Click");
    const res2 = await request(`/u/${multipart.token}`, { method: "POST", body: form });
    expect(res2.status).toBe(200);
    expect(await blocked(multipart.scenarioRecordId)).toBe(1);

    // Some senders of the POST leave out the content type.
    const bare = await sentEmail();
    const next3 = await addLink("next", bare.emailId, bare.recordActivityId, "https://shop.example/goodbye");
    const res3 = await request(`/u/${bare.token}/${next3}`, { method: "POST", body: "List-Unsubscribe=One-Click" });
    expect(res3.status).toBe(200);
    expect(await blocked(bare.scenarioRecordId)).toBe(1);
  });

  it("redirects (303) to the next page stored at send time", async () => {
    const sent = await sentEmail();
    const next = await addLink("next", sent.emailId, sent.recordActivityId, "https://shop.example/goodbye");
    const page = await request(`/u/${sent.token}/${next}`);
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self' https://shop.example;");
    expect(await page.text()).toContain(`action="/u/${sent.token}/${next}"`);

    const res = await request(`/u/${sent.token}/${next}`, FORM_POST);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("https://shop.example/goodbye");
    expect(await blocked(sent.scenarioRecordId)).toBe(1);
    const hit = await env.DB.prepare("SELECT * FROM hits WHERE link_key = ?").bind(next).first();
    expect(hit).toMatchObject({ kind: "unsubscribe", email_id: sent.emailId, activity_id: sent.sendActivityId });
  });

  it("never redirects to a next page given in the query string", async () => {
    const sent = await sentEmail();
    const page = await (await request(`/u/${sent.token}?next=https://evil.example`)).text();
    expect(page).not.toContain("evil");
    const res = await request(`/u/${sent.token}?next=https://evil.example`, FORM_POST);
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();

    const other = await sentEmail();
    const next = await addLink("next", other.emailId, other.recordActivityId, "https://shop.example/goodbye");
    const withNext = await request(`/u/${other.token}/${next}?next=https://evil.example`, FORM_POST);
    expect(withNext.headers.get("location")).toBe("https://shop.example/goodbye");
  });

  it("ignores a next page that belongs to another recipient", async () => {
    const mine = await sentEmail();
    const theirs = await sentEmail();
    const next = await addLink("next", theirs.emailId, theirs.recordActivityId, "https://evil.example/");
    const page = await (await request(`/u/${mine.token}/${next}`)).text();
    expect(page).toContain(`action="/u/${mine.token}"`);
    const res = await request(`/u/${mine.token}/${next}`, FORM_POST);
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(await blocked(mine.scenarioRecordId)).toBe(1);
  });

  it("speaks the party's language", async () => {
    const sent = await sentEmail({ lang: "fr_FR", scenarioName: "Soldes d’été" });
    const page = await (await request(`/u/${sent.token}`)).text();
    expect(page).toContain('<html lang="fr">');
    expect(page).toContain("Se désabonner de « Soldes d’été » ?");
    expect(page).toContain('<button type="submit">Se désabonner</button>');
    const done = await (await request(`/u/${sent.token}`, FORM_POST)).text();
    expect(done).toContain("Vous êtes désabonné");
    // Once unsubscribed, the link shows that rather than the question again.
    expect(await (await request(`/u/${sent.token}`)).text()).toContain("Vous êtes désabonné");
  });

  it("escapes the scenario name", async () => {
    const sent = await sentEmail({ scenarioName: '<script>alert("x")</script>' });
    const page = await (await request(`/u/${sent.token}`)).text();
    expect(page).not.toContain("<script>");
    expect(page).toContain("&lt;script&gt;");
  });

  it("answers 404 for an unknown token, whatever the method", async () => {
    for (const init of [{}, FORM_POST, ONE_CLICK]) {
      const res = await request(`/u/1-${"0".repeat(32)}`, init);
      expect(res.status).toBe(404);
      expectSecurePage(res);
    }
    expect((await request("/u/short")).status).toBe(404);
  });

  it("needs the record's secret, not just its id", async () => {
    const sent = await sentEmail();
    const [id, secret] = sent.token.split("-") as [string, string];
    const wrong = `${id}-${secret.replace(/^./, (ch) => (ch === "0" ? "1" : "0"))}`;
    for (const init of [{}, FORM_POST, ONE_CLICK]) expect((await request(`/u/${wrong}`, init)).status).toBe(404);
    expect((await request(`/u/${Number(id) + 1}-${secret}`)).status).toBe(404);
    const state = await env.DB.prepare("SELECT blocked FROM scenario_records WHERE id = ?").bind(Number(id)).first();
    expect(state?.blocked).toBe(0);
    expect((await request(`/u/${sent.token}`)).status).toBe(200);
  });

  it("shows an HTML error page, not a stack trace, when the database fails", async () => {
    const broken = {
      prepare: () => {
        throw new Error("D1 is down");
      },
    } as unknown as D1Database;
    const res = await request(`/u/1-${"0".repeat(32)}`, { env: { DB: broken } });
    expect(res.status).toBe(500);
    expectSecurePage(res);
    expect(await res.text()).toContain("Something went wrong");
  });
});
