import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, processDue } from "../../src/engine/execution/execute";
import { confirmSubscription } from "../../src/engine/recipients/confirmations";
import { withMailer } from "../../src/services";
import { login, visit } from "../console/helpers";
import {
  buildScenario,
  deadClaim,
  recordActivityOf,
  ScriptedMailer,
  sendEmail,
  sent,
  testEngine,
} from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";
import { CHROME } from "../tracking/fixtures";

const page = (path: string, init: RequestInit = {}) =>
  SELF.fetch(`https://ma.example${path}`, {
    ...init,
    headers: { "user-agent": CHROME, ...(init.headers as Record<string, string>) },
  });
const post = (path: string, headers: Record<string, string> = {}) =>
  page(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: "",
  });

const CONFIRM_TEMPLATE = '<p>Hello {{party.name}}, one more step.</p><p><a href="confirm">Yes, subscribe me</a></p>';
const PARTIES = ["ann", "bob", "cat"];

let scenarioId: string;
let ids: Record<string, string>;
const links: Record<string, string> = {};

async function emailsTo(partyId: string) {
  const page = await ok("GET", `/emails?scenario_id=${scenarioId}&limit=500`);
  return (page.items as { id: string; to: string; subject: string }[])
    .filter((m) => m.to.includes(`${partyId}@example.com`))
    .sort((a, b) => Number(a.id) - Number(b.id));
}

const stateOf = async (activity: string, partyId: string) => {
  const ra = await recordActivityOf(scenarioId, ids[activity] as string, partyId);
  return ra ? { state: ra.state, at: ra.at, reason: ra.reason } : undefined;
};

/** Executes what is due now, through the API, until nothing is left. */
async function processAll() {
  for (let i = 0; i < 10; i++) if (!(await ok("POST", "/jobs/process")).more) return;
}

beforeAll(async () => {
  for (const id of PARTIES) {
    await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com`, lang: id === "ann" ? "fr" : "en" });
  }
  const built = await buildScenario({ name: "Weekly letter", model: "party", domain: [["id", "in", PARTIES]] }, [
    { name: "Confirm", action: "send_email", email_title: "Please confirm", email_template: CONFIRM_TEMPLATE },
    { name: "Welcome", parent: "Confirm", on: "subscription_confirmed", ...sendEmail, email_title: "Welcome" },
    { name: "Expired", parent: "Confirm", on: "subscription_not_confirmed", delay: "P7D" },
  ]);
  scenarioId = built.scenarioId;
  ids = built.activity;
  expect((await ok("PATCH", `/scenarios/${scenarioId}`, { double_opt_in: true })).double_opt_in).toBe(true);
  await ok("POST", `/scenarios/${scenarioId}/run`);
  await ok("POST", "/jobs/enroll");
  await processAll();
  for (const id of PARTIES) {
    const [mail] = await emailsTo(id);
    const html = (await ok("GET", `/emails/${mail?.id}`)).html as string;
    links[id] = /href="https?:\/\/[^/"]+(\/c\/[^"]+)"/.exec(html)?.[1] as string;
  }
});

/**
 * A running double opt-in scenario of its own for party `partyId` (a confirmation e-mail, a welcome an hour after the
 * confirmation, an expiry after 7 days without one), the party enrolled through the engine.
 */
async function enrolledInOptIn(name: string, partyId: string) {
  await ok("PUT", `/records/party/${partyId}`, { name: partyId, email: `${partyId}@example.com` });
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", partyId]] }, [
    { name: "Confirm", action: "send_email", email_title: "Confirm", email_template: CONFIRM_TEMPLATE },
    { name: "Welcome", parent: "Confirm", on: "subscription_confirmed", delay: "PT1H" },
    { name: "Expired", parent: "Confirm", on: "subscription_not_confirmed", delay: "P7D" },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running', double_opt_in = 1 WHERE id = ?")
    .bind(Number(built.scenarioId))
    .run();
  const { engine } = testEngine();
  await enroll(engine, { scenarioId: Number(built.scenarioId) });
  return { built, engine };
}

/** The recipient reads the mail a minute after it went out (a POST within seconds of delivery is a scanner's). */
const readLater = () =>
  env.DB.batch([
    env.DB.prepare("UPDATE emails SET sent_at = sent_at - 60000 WHERE scenario_id = ?").bind(Number(scenarioId)),
    // First attempts are archived on their record activity's row.
    env.DB.prepare(
      "UPDATE record_activities SET email_sent_at = email_sent_at - 60000 WHERE scenario_id = ? AND email_status IS NOT NULL",
    ).bind(Number(scenarioId)),
  ]);

describe("double opt-in", () => {
  it("sends the confirmation e-mail first, with a working confirmation link, and nothing else", async () => {
    for (const id of PARTIES) {
      expect((await emailsTo(id)).map((m) => m.subject)).toEqual(["Please confirm"]);
      expect(links[id]).toMatch(/^\/c\/[1-9][0-9]*-[0-9a-f]{32}$/);
    }
    const res = await page(links.ann as string);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("content-security-policy")).toContain("form-action 'self'");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toContain('<html lang="fr">');
    expect(html).toContain("Confirmez votre abonnement à « Weekly letter »");
    expect(html).toContain(`<form method="post" action="${links.ann}"`);
    expect(await stateOf("Welcome", "ann")).toEqual({
      state: "waiting",
      at: null,
      reason: "waiting for the recipient to confirm the subscription",
    });
    expect((await stateOf("Expired", "ann"))?.state).toBe("waiting");
  });

  it("sends the confirmation e-mail without the open pixel: a confirmation's open tracking is off by default", async () => {
    const [mail] = await emailsTo("bob");
    const email = await ok("GET", `/emails/${mail?.id}`);
    expect(email.html).toContain("/c/");
    expect(email.html).not.toContain("/o/");
    const confirm = await ok("GET", `/activities/${ids.Confirm}`);
    expect(confirm).toMatchObject({ settings: null, open_tracking: false });
    expect((await ok("GET", `/activities/${ids.Welcome}`)).open_tracking).toBe(true);
  });

  it("previews point the confirmation link at a page that confirms nothing", async () => {
    const preview = await ok("POST", `/activities/${ids.Confirm}/preview`, { record_model: "party", record_id: "bob" });
    expect(preview.html).toContain("/c/preview");
    expect((await page("/c/preview")).status).toBe(404);
  });

  it("a GET, a HEAD or a scanner's fetch of the link confirms nothing, and the children keep waiting", async () => {
    const link = links.bob as string;
    expect((await page(link)).status).toBe(200);
    expect((await page(link, { method: "HEAD" })).status).toBe(200);
    const scanner = await page(link, { headers: { "user-agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)" } });
    expect(scanner.status).toBe(200);
    // A scanner that submits the form is judged like a click: it is stored as a machine hit and confirms nothing.
    const safeLinks = await post(link, { "user-agent": "Microsoft Office SafeLinks Protection" });
    expect(await safeLinks.text()).toContain("please open the link in your usual browser".replace("please", "Please"));
    // So is a POST within seconds of delivery, whoever sends it: the mail has barely reached the gateway.
    expect(await (await post(link)).text()).toContain("Confirm my subscription");
    await processAll();
    expect((await emailsTo("bob")).map((m) => m.subject)).toEqual(["Please confirm"]);
    expect((await stateOf("Welcome", "bob"))?.at).toBeNull();
    expect((await ok("GET", `/scenarios/${scenarioId}/confirmations`)).items).toEqual([]);
    // Hits are written a moment after the answer (with the other hits of the same instant).
    const read = () =>
      env.DB.prepare("SELECT human, reason FROM hits WHERE kind = 'confirm' AND scenario_id = ? ORDER BY id")
        .bind(Number(scenarioId))
        .all<{ human: number; reason: string }>();
    let hits = await read();
    for (let i = 0; i < 40 && hits.results.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      hits = await read();
    }
    expect(hits.results.map((h) => h.reason)).toEqual([
      "scanner_user_agent:microsoft_safelinks",
      "too_soon_after_delivery",
    ]);
  });

  it("the person's POST confirms: the confirmation is recorded and the children run; a second POST changes nothing", async () => {
    await readLater();
    const res = await post(links.ann as string);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("Votre abonnement est confirmé");
    expect(await stateOf("Expired", "ann")).toMatchObject({
      state: "cancelled",
      reason: "the subscription was confirmed",
    });
    expect((await stateOf("Welcome", "ann"))?.at).not.toBeNull();
    await processAll();
    expect((await emailsTo("ann")).map((m) => m.subject)).toEqual(["Please confirm", "Welcome"]);
    expect((await stateOf("Welcome", "ann"))?.state).toBe("done");

    const confirmations = (await ok("GET", `/scenarios/${scenarioId}/confirmations`)).items;
    expect(confirmations).toEqual([
      {
        scenario_record_id: expect.any(String),
        record_id: "ann",
        party_id: "ann",
        client: "Chrome on Windows",
        confirmed_at: expect.any(String),
      },
    ]);
    expect((await ok("GET", `/scenarios/${scenarioId}`)).record_count_confirmed).toBe(1);

    const again = await post(links.ann as string);
    expect(again.status).toBe(200);
    expect(await again.text()).toContain("Votre abonnement est confirmé");
    expect(await (await page(links.ann as string)).text()).toContain("Votre abonnement est confirmé");
    await processAll();
    expect(await emailsTo("ann")).toHaveLength(2);
    expect((await ok("GET", `/scenarios/${scenarioId}/confirmations`)).items).toEqual(confirmations);
    // The others are untouched.
    expect((await stateOf("Welcome", "cat"))?.at).toBeNull();
  });

  it("a tampered or unknown token is a 404 and confirms nothing", async () => {
    const link = links.cat as string;
    const last = link.slice(-1);
    const tampered = `${link.slice(0, -1)}${last === "0" ? "1" : "0"}`;
    expect((await page(tampered)).status).toBe(404);
    expect((await post(tampered)).status).toBe(404);
    expect((await post(`/c/${"9".repeat(9)}-${link.slice(-32)}`)).status).toBe(404);
    expect((await post("/c/not-a-token")).status).toBe(404);
    expect((await stateOf("Welcome", "cat"))?.at).toBeNull();
  });

  it("runs the not-confirmed branch at its deadline when nobody confirms, and a late confirmation changes nothing", async () => {
    // Seven days on: the expiry is due (made due by hand, as time would).
    const expiry = await recordActivityOf(scenarioId, ids.Expired as string, "cat");
    await env.DB.prepare("UPDATE record_activities SET at = ? WHERE id = ?")
      .bind(Date.now() - 1000, Number(expiry?.id))
      .run();
    await processAll();
    expect((await stateOf("Expired", "cat"))?.state).toBe("done");
    expect((await stateOf("Welcome", "cat"))?.state).toBe("cancelled");
    await readLater();
    const late = await post(links.cat as string);
    expect(await late.text()).toContain("This confirmation has expired");
    await processAll();
    expect((await emailsTo("cat")).map((m) => m.subject)).toEqual(["Please confirm"]);
    expect((await ok("GET", `/scenarios/${scenarioId}/confirmations`)).items).toHaveLength(1);
  });

  it("a double-opt-in scenario whose tree could reach a recipient before the confirmation refuses to run (409)", async () => {
    const refuse = async (activities: Parameters<typeof buildScenario>[1], ...why: string[]) => {
      const s = await buildScenario({ name: "Strict", model: "party", domain: [] }, activities);
      await ok("PATCH", `/scenarios/${s.scenarioId}`, { double_opt_in: true });
      expectError(await api("POST", `/scenarios/${s.scenarioId}/run`), 409, "requires double opt-in", ...why);
      expect((await ok("GET", `/scenarios/${s.scenarioId}`)).state).toBe("draft");
    };
    const confirm = { name: "Confirm", action: "send_email", email_title: "Confirm", email_template: CONFIRM_TEMPLATE };
    await refuse([{ name: "Hello", ...sendEmail }], '"Hello"', 'href="confirm"');
    await refuse([confirm], 'no child on "subscription_confirmed"');
    await refuse(
      [
        // Open tracking turned on: a confirmation e-mail's default (off) refuses an email_opened child outright.
        { ...confirm, settings: { open_tracking: true } },
        { name: "Then", parent: "Confirm", on: "subscription_confirmed" },
        { name: "Opened", parent: "Confirm", on: "email_opened", ...sendEmail },
      ],
      '"Opened"',
      "would run before the recipient confirms",
    );
    await refuse(
      [
        confirm,
        { name: "Then", parent: "Confirm", on: "subscription_confirmed" },
        { name: "Nag", parent: "Confirm", on: "subscription_not_confirmed", delay: "P3D", ...sendEmail },
      ],
      '"Nag"',
      "nothing may reach a recipient who did not confirm",
    );
    // A running double-opt-in scenario keeps to the rules through changes of its tree.
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, { name: "Sneaky", ...sendEmail }),
      409,
      "requires double opt-in",
      "the new activity",
    );
    expectError(
      await api("PATCH", `/activities/${ids.Welcome}`, { on: null }),
      409,
      'has no child on "subscription_confirmed"',
    );
    // Without the flag the same tree runs.
    const free = await buildScenario({ name: "Free", model: "party", domain: [] }, [{ name: "Hello", ...sendEmail }]);
    expect((await ok("POST", `/scenarios/${free.scenarioId}/run`)).state).toBe("running");
    expectError(
      await api("PATCH", `/scenarios/${free.scenarioId}`, { double_opt_in: true }),
      409,
      "requires double opt-in",
    );
  });

  it("keeps a confirmation that arrives while the confirmation e-mail is still being sent", async () => {
    const { built: race, engine } = await enrolledInOptIn("Race", "dan");
    // The recipient confirms between the e-mail's delivery and the commit of its record activity.
    const mailer = new ScriptedMailer(async (job) => {
      const sub = { scenarioRecordId: job.scenarioRecord.id, scenarioId: job.scenario.id, partyId: "dan" };
      expect((await confirmSubscription(engine, sub, "test")).changed).toBe(true);
      return sent();
    });
    await processDue(withMailer(engine, mailer));
    expect(mailer.jobs).toHaveLength(1);
    const welcome = await recordActivityOf(race.scenarioId, race.activity.Welcome as string, "dan");
    expect(welcome?.state).toBe("waiting");
    expect(Date.parse(welcome?.at as string)).toBeGreaterThan(Date.now() + 3_500_000);
    const expired = await recordActivityOf(race.scenarioId, race.activity.Expired as string, "dan");
    expect([expired?.state, expired?.reason]).toEqual(["cancelled", "the subscription was confirmed"]);
  });

  it("refuses a confirmation while a claim holds the not-confirmed branch: it is running", async () => {
    const { built: held, engine } = await enrolledInOptIn("Held expiry", "eve");
    await processDue(withMailer(engine, new ScriptedMailer()));
    const expiry = await recordActivityOf(held.scenarioId, held.activity.Expired as string, "eve");
    // Its deadline came and a claim holds it (a claim writes only its claims row: the row stays waiting).
    await env.DB.prepare("UPDATE record_activities SET at = ? WHERE id = ?")
      .bind(Date.now() - 1000, Number(expiry?.id))
      .run();
    await deadClaim("id = ?", [Number(expiry?.id)], Date.now() + CLAIM_TIMEOUT_MS);
    const sub = {
      scenarioRecordId: Number(expiry?.scenario_record_id),
      scenarioId: Number(held.scenarioId),
      partyId: "eve",
    };
    expect(await confirmSubscription(engine, sub, "test")).toEqual({ changed: false, state: "expired" });
    expect(await recordActivityOf(held.scenarioId, held.activity.Expired as string, "eve")).toMatchObject({
      state: "running",
    });
  });

  it("cancels an expiry claimed after the recipient confirmed", async () => {
    // Bob's expiry is due; his confirmation is written behind the engine's back, as if between claim and execution.
    const expiry = await recordActivityOf(scenarioId, ids.Expired as string, "bob");
    await env.DB.prepare("UPDATE record_activities SET at = ? WHERE id = ?")
      .bind(Date.now() - 1000, Number(expiry?.id))
      .run();
    await env.DB.prepare(
      `INSERT INTO subscription_confirmations (scenario_record_id, scenario_id, party_id, client, confirmed_at)
       VALUES (?, ?, 'bob', 'test', ?)`,
    )
      .bind(Number(expiry?.scenario_record_id), Number(scenarioId), Date.now())
      .run();
    await processDue(withMailer(testEngine().engine, new ScriptedMailer()));
    expect(await stateOf("Expired", "bob")).toMatchObject({
      state: "cancelled",
      reason: "the subscription was confirmed",
    });
    await env.DB.prepare("DELETE FROM subscription_confirmations WHERE scenario_record_id = ?")
      .bind(Number(expiry?.scenario_record_id))
      .run();
  });

  it("rejects bad input naming the field", async () => {
    expectError(await api("PATCH", `/scenarios/${scenarioId}`, { double_opt_in: "yes" }), 400, "double_opt_in");
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, {
        name: "x",
        parent_id: ids.Confirm,
        on: "subscription_not_confirmed",
      }),
      400,
      "delay: required",
    );
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, { name: "x", on: "subscription_confirmed" }),
      400,
      "on:",
    );
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, {
        name: "x",
        parent_id: ids.Expired,
        on: "subscription_confirmed",
      }),
      400,
      'parent\'s action is "send_email"',
    );
    const plain = await ok("POST", `/scenarios/${scenarioId}/activities`, {
      name: "Plain",
      parent_id: ids.Welcome,
      ...sendEmail,
    });
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, {
        name: "x",
        parent_id: plain.id,
        on: "subscription_confirmed",
      }),
      400,
      `activity ${plain.id}'s template has no href="confirm" link`,
    );
    expectError(
      await api("PATCH", `/activities/${ids.Confirm}`, { email_template: "<p>no link</p>" }),
      400,
      "email_template:",
      'href="confirm"',
    );
  });

  it("shows the flag and each recipient's confirmation in the console, and documents the API", async () => {
    const { cookie } = await login();
    const scenario = await (await visit(`/console/scenarios/${scenarioId}`, { cookie })).text();
    expect(scenario).toContain("Double opt-in");
    expect(scenario).toContain("(1 confirmed)");
    expect(scenario).toContain("when the recipient confirms the subscription");
    const records = (await ok("GET", `/scenarios/${scenarioId}/records`)).items as { id: string; record_id: string }[];
    const timeline = async (party: string) =>
      (await visit(`/console/scenario-records/${records.find((r) => r.record_id === party)?.id}`, { cookie })).text();
    expect(await timeline("ann")).toMatch(/confirmed<\/span> .*from Chrome on Windows/s);
    const bob = await timeline("bob");
    expect(bob).toContain("not confirmed: only the confirmation e-mail goes out");
    expect(bob).toMatch(/Confirmation<\/th>\s*<td><span class="badge machine">/);

    const doc = (await api("GET", "/openapi.json", undefined, { token: null })).body;
    expect(Object.keys(doc.paths)).toContain("/api/scenarios/{id}/confirmations");
    expect(Object.keys(doc.components.schemas.Scenario.properties)).toContain("double_opt_in");
    expect(doc.components.schemas.Activity.properties.on.enum).toContain("subscription_confirmed");
  });
});
