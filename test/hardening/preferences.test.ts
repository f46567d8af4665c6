import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Bindings } from "../../src/env";
import { unsubscribeSecretOf } from "../../src/signing/tokens";
import { buildScenario, sendEmail } from "../engine/fixtures";
import { ok } from "../helpers";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;
const BROWSER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";
const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  SELF.fetch(`https://ma.example${path}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", "user-agent": BROWSER, ...headers },
    body,
  });

let token: string;
const prefs = async () =>
  (await ok("GET", "/parties/creed/preferences")) as {
    all_opted_out: boolean;
    topics: { id: string; subscribed: boolean }[];
  };

beforeAll(async () => {
  await ok("PUT", "/topics/deals", { name: "Deals" });
  await ok("PUT", "/records/party/creed", { name: "Creed", email: "creed@example.com" });
  const s = (
    await buildScenario({ name: "Deals", model: "party", domain: [["id", "=", "creed"]] }, [
      { name: "Deal", delay: "P1D", ...sendEmail },
    ])
  ).scenarioId;
  await ok("PATCH", `/scenarios/${s}`, { topics: ["deals"] });
  await ok("POST", `/scenarios/${s}/run`);
  await ok("POST", "/jobs/enroll");
  const row = await env.DB.prepare(
    "SELECT id, token FROM scenario_records WHERE scenario_id = ? AND record_id = 'creed'",
  )
    .bind(Number(s))
    .first<{ id: number; token: string }>();
  token = `${row?.id}-${await unsubscribeSecretOf(SECRET, { id: row?.id as number, token: row?.token ?? "" })}`;
});

describe("the preference centre acts only for a person", () => {
  it("a scanner's POST with action=all changes nothing", async () => {
    const res = await post(`/p/${token}`, "action=all", { "user-agent": "Barracuda Sentinel (EE)" });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain("saved");
    const empty = await post(`/p/${token}`, "action=all", { "user-agent": "" });
    expect(empty.status).toBe(200);
    const via = await post(`/p/${token}`, "action=all", { referer: "https://linkprotect.cudasvc.com/url?a=x" });
    expect(via.status).toBe(200);
    expect(await prefs()).toMatchObject({ all_opted_out: false, topics: [{ id: "deals", subscribed: true }] });
  });

  it("a body that does not parse, or names no action, changes nothing", async () => {
    const broken = await SELF.fetch(`https://ma.example/p/${token}`, {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=nope", "user-agent": BROWSER },
      body: "garbage",
    });
    expect(broken.status).toBe(400);
    expect((await post(`/p/${token}`, "")).status).toBe(400);
    expect((await post(`/p/${token}`, '{"action": "save"}', { "content-type": "application/json" })).status).toBe(400);
    expect(await prefs()).toMatchObject({ all_opted_out: false, topics: [{ id: "deals", subscribed: true }] });
  });

  it("a person's POST applies", async () => {
    expect((await post(`/p/${token}`, "action=save")).status).toBe(200);
    expect(await prefs()).toMatchObject({ topics: [{ id: "deals", subscribed: false }] });
  });
});
