import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/env";
import { unsubscribeSecretOf } from "../../src/signing/tokens";
import { buildScenario, recordActivities, sendEmail } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;
const page = (path: string, init?: RequestInit) => SELF.fetch(`https://ma.example${path}`, init);
const form = (body: string): RequestInit => ({
  method: "POST",
  // A person's browser: the preference centre ignores what a scanner posts.
  headers: {
    "content-type": "application/x-www-form-urlencoded",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  },
  body,
});

/** The preference-centre token of a party in a scenario (the scenario record's own token, derived when none is stored). */
async function tokenOf(scenarioId: string, partyId: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id, token FROM scenario_records WHERE scenario_id = ? AND record_id = ?")
    .bind(Number(scenarioId), partyId)
    .first<{ id: number; token: string }>();
  return `${row?.id}-${await unsubscribeSecretOf(SECRET, { id: row?.id as number, token: row?.token ?? "" })}`;
}

async function stateOf(scenarioId: string, partyId: string) {
  const srs = await ok("GET", `/scenarios/${scenarioId}/records?limit=500`);
  const sr = srs.items.find((r: { record_id: string }) => r.record_id === partyId);
  if (!sr) return "not enrolled";
  const [ra] = await recordActivities(scenarioId, `&scenario_record_id=${sr.id}`);
  return ra ? `${ra.state}${ra.reason ? `: ${ra.reason}` : ""}` : "none";
}

let offers: string;
let news: string;

beforeAll(async () => {
  await ok("PUT", "/topics/offers", { name: "Special offers", description: "Discounts, a few times a month" });
  await ok("PUT", "/topics/newsletter", { name: "Newsletter" });
  for (const id of ["pam", "jim", "kevin"]) {
    await ok("PUT", `/records/party/${id}`, {
      name: id,
      email: `${id}@example.com`,
      lang: id === "pam" ? "fr_CA" : "en",
    });
  }
  const domain = [["id", "in", ["pam", "jim", "kevin"]]];
  offers = (
    await buildScenario({ name: "Offers", model: "party", domain }, [{ name: "Offer", delay: "P1D", ...sendEmail }])
  ).scenarioId;
  news = (
    await buildScenario({ name: "News", model: "party", domain }, [{ name: "Issue", delay: "P1D", ...sendEmail }])
  ).scenarioId;
  await ok("PATCH", `/scenarios/${offers}`, { topics: ["offers"] });
  await ok("PATCH", `/scenarios/${news}`, { topics: ["newsletter"] });
  // Kevin opted out of offers before anything ran.
  await ok("PATCH", "/parties/kevin/preferences", { topics: { offers: false } });
  await ok("POST", `/scenarios/${offers}/run`);
  await ok("POST", `/scenarios/${news}/run`);
  await ok("POST", "/jobs/enroll");
});

describe("topics and the preference centre", () => {
  it("tags scenarios with topics, and rejects unknown ones naming the field", async () => {
    expect((await ok("GET", `/scenarios/${offers}`)).topics).toEqual(["offers"]);
    const list = await ok("GET", "/topics");
    expect(list.items.map((t: { id: string; scenario_count: number }) => [t.id, t.scenario_count])).toEqual([
      ["newsletter", 1],
      ["offers", 1],
    ]);
    expectError(await api("PATCH", `/scenarios/${offers}`, { topics: ["offers", "nope"] }), 400, "topics[1]", "nope");
    expectError(await api("PUT", "/topics/Bad Id", { name: "x" }), 400, "id:");
    expectError(await api("PATCH", "/parties/jim/preferences", { topics: { nope: false } }), 400, "topics.nope");
  });

  it("does not enroll a party in the scenarios of a topic it opted out of, and only those", async () => {
    expect(await stateOf(offers, "kevin")).toBe("not enrolled");
    expect(await stateOf(news, "kevin")).toBe("waiting");
    expect(await stateOf(offers, "jim")).toBe("waiting");
  });

  it("GET of the preference page lists the topics in the party's language and changes nothing", async () => {
    const token = await tokenOf(offers, "pam");
    for (const method of ["GET", "HEAD"]) expect((await page(`/p/${token}`, { method })).status).toBe(200);
    const res = await page(`/p/${token}`);
    expect(res.headers.get("content-security-policy")).toContain("form-action 'self'");
    const html = await res.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain("Vos préférences d’e-mails");
    expect(html).toContain('value="offers" checked> Special offers');
    expect(html).toContain('value="newsletter" checked> Newsletter');
    expect(html).toContain(`action="/p/${token}"`);
    expect(await stateOf(offers, "pam")).toBe("waiting");
    expect(
      (await ok("GET", "/parties/pam/preferences")).topics.every((t: { subscribed: boolean }) => t.subscribed),
    ).toBe(true);
  });

  it("POST opting out of one topic cancels that topic's pending sends and not the other's, idempotently", async () => {
    const token = await tokenOf(news, "pam");
    for (let i = 0; i < 2; i++) {
      const res = await page(`/p/${token}`, form("subscribed=newsletter&action=save"));
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("Vos choix sont enregistrés.");
      expect(html).toContain('value="offers"> Special offers');
    }
    expect(await stateOf(offers, "pam")).toBe('cancelled: the recipient opted out of the topic "Special offers"');
    expect(await stateOf(news, "pam")).toBe("waiting");
    expect(await stateOf(offers, "jim")).toBe("waiting");
    const prefs = await ok("GET", "/parties/pam/preferences");
    expect(prefs.topics.map((t: { id: string; subscribed: boolean }) => [t.id, t.subscribed])).toEqual([
      ["newsletter", true],
      ["offers", false],
    ]);
  });

  it("opting out of all topics stops every tagged scenario", async () => {
    const res = await page(`/p/${await tokenOf(news, "jim")}`, form("action=all"));
    expect(res.status).toBe(200);
    expect(await stateOf(offers, "jim")).toContain("cancelled: the recipient opted out");
    expect(await stateOf(news, "jim")).toBe('cancelled: the recipient opted out of the topic "Newsletter"');
    expect((await ok("GET", "/parties/jim/preferences")).all_opted_out).toBe(true);
  });

  it("documents topics, preferences and settings in the OpenAPI document", async () => {
    const doc = (await api("GET", "/openapi.json", undefined, { token: null })).body;
    for (const path of ["/api/topics", "/api/topics/{id}", "/api/parties/{id}/preferences", "/api/settings"]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["SendWindow", "FrequencyCap", "EmailTranslations", "Preferences"]),
    );
  });

  it("a forged or malformed token is a 404 and changes nothing", async () => {
    const token = await tokenOf(news, "kevin");
    const forged = `${token.split("-")[0]}-${"0".repeat(32)}`;
    expect((await page(`/p/${forged}`)).status).toBe(404);
    expect((await page(`/p/${forged}`, form("action=all"))).status).toBe(404);
    expect((await page("/p/preview", form("action=all"))).status).toBe(404);
    expect(await stateOf(news, "kevin")).toBe("waiting");
  });
});
