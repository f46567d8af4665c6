import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { withMailer } from "../../../src/services";
import { api, expectError, ok } from "../../helpers";
import { buildScenario, recordActivityOf, ScriptedMailer, sendEmail, testEngine } from "../fixtures";

beforeAll(async () => {
  await ok("PUT", "/records/party/michael", { name: "Michael Scott", email: "michael@example.com" });
});

async function sentScenario(name: string, activities: Parameters<typeof buildScenario>[1]) {
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", "michael"]] }, activities);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  const { engine } = testEngine();
  await enroll(engine, { scenarioId: Number(built.scenarioId) });
  await processDue(withMailer(engine, new ScriptedMailer()));
  const mail = await recordActivityOf(built.scenarioId, built.activity.Mail as string, "michael");
  expect(mail?.state).toBe("done");
  const state = (name: string) => recordActivityOf(built.scenarioId, built.activity[name] as string, "michael");
  return { ...built, mail: mail as NonNullable<typeof mail>, state };
}

describe("events", () => {
  it("an open makes email_opened children due and cancels email_not_opened; once only", async () => {
    const s = await sentScenario("Open", [
      { name: "Mail", ...sendEmail },
      { name: "Opened", parent: "Mail", on: "email_opened", delay: "PT1H" },
      { name: "Not opened", parent: "Mail", on: "email_not_opened", delay: "P2D" },
      { name: "Clicked", parent: "Mail", on: "email_clicked" },
    ]);
    const before = Date.now();
    const first = await ok("POST", `/record-activities/${s.mail.id}/opened`);
    expect(first).toMatchObject({ changed: true, email_opened: true, email_clicked: false });
    const opened = await s.state("Opened");
    expect(opened?.state).toBe("waiting");
    expect(Date.parse(opened?.at as string) - before).toBeGreaterThanOrEqual(3_600_000 - 1_000);
    expect(await s.state("Not opened")).toMatchObject({ state: "cancelled", reason: "the e-mail was opened" });
    expect(await s.state("Clicked")).toMatchObject({ state: "waiting", at: null });
    const again = await ok("POST", `/record-activities/${s.mail.id}/opened`);
    expect(again.changed).toBe(false);
    expect((await s.state("Opened"))?.at).toBe(opened?.at);
  });

  it("a click implies an open, and cancels email_not_clicked even with no email_clicked sibling", async () => {
    const s = await sentScenario("Click", [
      { name: "Mail", ...sendEmail },
      { name: "Opened", parent: "Mail", on: "email_opened" },
      { name: "Not opened", parent: "Mail", on: "email_not_opened", delay: "P1D" },
      { name: "Not clicked", parent: "Mail", on: "email_not_clicked", delay: "P2D" },
    ]);
    const res = await ok("POST", `/record-activities/${s.mail.id}/clicked`);
    expect(res).toMatchObject({ changed: true, email_opened: true, email_clicked: true });
    expect((await s.state("Opened"))?.at).not.toBeNull();
    expect((await s.state("Not opened"))?.state).toBe("cancelled");
    expect(await s.state("Not clicked")).toMatchObject({ state: "cancelled", reason: "the e-mail was clicked" });
    expect((await ok("POST", `/record-activities/${s.mail.id}/clicked`)).changed).toBe(false);
    expect((await ok("POST", `/record-activities/${s.mail.id}/opened`)).changed).toBe(false);
    const stats = await ok("GET", `/activities/${s.activity.Mail}`);
    expect(stats).toMatchObject({
      record_count: 1,
      email_opened: 1,
      email_clicked: 1,
      email_open_rate: 1,
      email_click_through_rate: 1,
    });
  });

  it("an event that arrives while the e-mail is being sent is not lost", async () => {
    const built = await buildScenario({ name: "Race", model: "party", domain: [["id", "=", "michael"]] }, [
      { name: "Mail", ...sendEmail },
      { name: "Clicked", parent: "Mail", on: "email_clicked" },
      { name: "Not clicked", parent: "Mail", on: "email_not_clicked", delay: "P2D" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    const { engine, wakes } = testEngine();
    await enroll(engine, { scenarioId: Number(built.scenarioId) });
    // The recipient clicks during delivery: the record activity is still running, its children do not exist yet.
    const mailer = new ScriptedMailer(async (job) => {
      const r = await api("POST", `/record-activities/${job.recordActivityId}/clicked`);
      expect(r.status).toBe(200);
      return { status: "sent", emailId: 0 };
    });
    wakes.length = 0;
    await processDue(withMailer(engine, mailer));
    const state = (n: string) => recordActivityOf(built.scenarioId, built.activity[n] as string, "michael");
    const clicked = await state("Clicked");
    expect(clicked?.at).not.toBeNull();
    expect((await state("Not clicked"))?.state).toBe("cancelled");
    // Due at once, and its shard is woken for it then (not left to the minute sweep).
    const row = await env.DB.prepare("SELECT shard, due_at AS at FROM record_activities WHERE id = ?")
      .bind(clicked?.id)
      .first<{ shard: number; at: number }>();
    expect(wakes).toContainEqual({ shard: row?.shard, at: row?.at });
  });

  it("refuses events on record activities that sent no e-mail", async () => {
    const s = await sentScenario("Refuse", [
      { name: "Mail", ...sendEmail },
      { name: "Plain", parent: "Mail", delay: "P1D" },
    ]);
    const plain = await s.state("Plain");
    expectError(await api("POST", `/record-activities/${plain?.id}/opened`), 409, "did not send an e-mail");
    await env.DB.prepare("UPDATE record_activities SET state = 'waiting' WHERE id = ?").bind(s.mail.id).run();
    expectError(await api("POST", `/record-activities/${s.mail.id}/clicked`), 409, "has not sent an e-mail");
    expectError(await api("POST", "/record-activities/987654/opened"), 404);
    expectError(await api("POST", "/record-activities/abc/opened"), 404);
  });
});

describe("blocking and unsubscribing", () => {
  it("in an unsubscribable sale scenario, blocking the first sale keeps the party's second sale out", async () => {
    await ok("POST", "/records/sale/batch", { records: [{ id: "sale1", party: "michael", state: "confirmed" }] });
    const { scenarioId } = await buildScenario(
      { name: "Sales", model: "sale", domain: [["state", "=", "confirmed"]], unsubscribable: true },
      [{ name: "Mail", ...sendEmail }],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    const [first] = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    expect(first).toMatchObject({ record_id: "sale1", party_id: "michael", blocked: false });
    await ok("POST", `/scenario-records/${first.id}/block`);
    await ok("PUT", "/records/sale/sale2", { party: "michael", state: "confirmed" });
    await ok("PUT", "/records/sale/sale3", { party: "dwight", state: "confirmed" });
    await ok("POST", "/jobs/enroll");
    const ids = (await ok("GET", `/scenarios/${scenarioId}/records`)).items.map(
      (r: { record_id: string }) => r.record_id,
    );
    expect(ids.sort()).toEqual(["sale1", "sale3"]);
  });

  it("in a scenario that is not unsubscribable, blocking leaves the party's other records enrollable", async () => {
    await ok("PUT", "/records/sale/t1", { party: "jim", state: "won" });
    const { scenarioId } = await buildScenario({ name: "Not unsub", model: "sale", domain: [["state", "=", "won"]] }, [
      { name: "A" },
    ]);
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    const [first] = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    await ok("POST", `/scenario-records/${first.id}/block`);
    await ok("PUT", "/records/sale/t2", { party: "jim", state: "won" });
    await ok("POST", "/jobs/enroll");
    expect((await ok("GET", `/scenarios/${scenarioId}/records`)).items).toHaveLength(2);
  });

  it("block and unblock answer 404 for unknown scenario records", async () => {
    expectError(await api("POST", "/scenario-records/424242/block"), 404);
    expectError(await api("POST", "/scenario-records/x/unblock"), 404);
  });
});
