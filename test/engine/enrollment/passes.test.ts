import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { meteredD1 } from "../../../src/bench/meter";
import { CRON_ENROLL } from "../../../src/crons";
import { enroll } from "../../../src/engine/enrollment/enroll";
import {
  CYCLE_MS,
  noteRecordWrites,
  PENDING_GRACE_MS,
  scenariosDueForPass,
  timeGranularityMs,
} from "../../../src/engine/enrollment/passes";
import type { Bindings } from "../../../src/env";
import worker from "../../../src/index";
import { enrollerStub } from "../../../src/scheduler/client";
import { api, ok } from "../../helpers";
import { buildScenario, testEngine } from "../fixtures";

const bindings = env as unknown as Bindings;
const HOUR = 3_600_000;

/** Runs the five-minute cron at `at` with a D1 binding that adds up what D1 reports. */
async function enrollmentCycle(at = Date.now()) {
  const { db, totals } = meteredD1(env.DB);
  const ctx = createExecutionContext();
  await worker.scheduled(
    createScheduledController({ cron: CRON_ENROLL, scheduledTime: at }),
    { ...env, DB: db } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return totals;
}

async function recordCount(scenarioId: string): Promise<number> {
  return (await ok("GET", `/scenarios/${scenarioId}`)).record_count;
}

/** A scenario run through the API whose first pass has finished. */
async function runningScenario(name: string, domain: unknown[], model = "party") {
  const { scenarioId } = await buildScenario({ name, model, domain }, [{ name: "A" }]);
  await ok("POST", `/scenarios/${scenarioId}/run`);
  const enroller = enrollerStub(bindings, Number(scenarioId));
  await runDurableObjectAlarm(enroller);
  await expect.poll(() => enroller.status()).toMatchObject({ cursor: null });
  return { scenarioId, enroller };
}

const dueIds = async (at: number) => (await scenariosDueForPass(testEngine().engine, at)).map((s) => String(s.id));

describe("enrollment passes only when something can have changed", () => {
  it("an idle scenario whose records came through the write path gets no pass: its cycle reads almost nothing", async () => {
    const { scenarioId, enroller } = await runningScenario("Idle", [["cohort", "=", "idle"]]);
    const records = Array.from({ length: 300 }, (_, i) => ({ id: `idle${i}`, name: `I${i}`, cohort: "idle" }));
    await ok("POST", "/records/party/batch", { records });
    await expect.poll(() => recordCount(scenarioId)).toBe(300);
    // The direct enrollment reported: nothing is owed.
    await expect.poll(() => dueIds(Date.now() + PENDING_GRACE_MS)).not.toContain(scenarioId);

    const totals = await enrollmentCycle();
    expect(totals.rowsRead).toBeLessThan(20);
    expect(await enroller.status()).toMatchObject({ cursor: null, again: false });
    expect(await runDurableObjectAlarm(enroller)).toBe(false);
  });

  it("a write whose direct enrollment never reported is passed at the first cycle after the grace period", async () => {
    const { scenarioId, enroller } = await runningScenario("Lost write", [["cohort", "=", "lost"]]);
    // As if the isolate ended between the write and its enrollment: the record is written, nothing enrolls it.
    const now = Date.now();
    await noteRecordWrites(testEngine().engine, "party", now);
    await env.DB.prepare(
      `INSERT INTO records (model, id, fields, party_id, created_at, updated_at)
       VALUES ('party', 'lost1', '{"name":"L","cohort":"lost"}', 'lost1', ?1, ?1)`,
    )
      .bind(now)
      .run();
    expect(await dueIds(now)).not.toContain(scenarioId);
    expect(await dueIds(now + PENDING_GRACE_MS)).toContain(scenarioId);
    await enrollmentCycle(now + PENDING_GRACE_MS);
    await runDurableObjectAlarm(enroller);
    await expect.poll(() => recordCount(scenarioId)).toBe(1);
    // The pass settled what was owed.
    expect(await dueIds(now + PENDING_GRACE_MS)).not.toContain(scenarioId);
  });

  it("a failed direct enrollment owes a pass at the next cycle", async () => {
    const { scenarioId } = await runningScenario("Failing", [["cohort", "=", "fail"]]);
    await env.DB.prepare("UPDATE scenarios SET domain = ? WHERE id = ?").bind('[["x","~",1]]', scenarioId).run();
    await ok("PUT", "/records/party/fail1", { name: "F", cohort: "fail" });
    await expect.poll(() => dueIds(Date.now())).toContain(scenarioId);
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE id = ?").bind(scenarioId).run();
  });

  it("a party write owes a pass to the scenarios of other models whose domain reads party fields", async () => {
    const sales = await runningScenario("Sales of VIPs", [["party.vip", "=", true]], "sale");
    const plain = await runningScenario("Confirmed sales", [["state", "=", "confirmed"]], "sale");
    await ok("PUT", "/records/party/vip1", { name: "V", vip: true });
    const later = Date.now() + PENDING_GRACE_MS;
    await expect.poll(() => dueIds(later)).toContain(sales.scenarioId);
    expect(await dueIds(later)).not.toContain(plain.scenarioId);
    for (const id of [sales.scenarioId, plain.scenarioId]) await ok("POST", `/scenarios/${id}/stop`);
  });

  it("changing a running scenario's domain owes a pass", async () => {
    const { scenarioId } = await runningScenario("Changed", [["cohort", "=", "a"]]);
    expect(await dueIds(Date.now())).not.toContain(scenarioId);
    await ok("PATCH", `/scenarios/${scenarioId}`, { domain: [["cohort", "=", "b"]] });
    expect(await dueIds(Date.now())).toContain(scenarioId);
    await ok("POST", `/scenarios/${scenarioId}/stop`);
  });

  it("a party opting back in to a topic, or a topic untagged, owes a pass to the running scenarios it kept out", async () => {
    await ok("PUT", "/topics/pass-news", { name: "Pass news" });
    await ok("PUT", "/records/party/optin1", { name: "O", cohort: "optin" });
    await ok("PATCH", "/parties/optin1/preferences", { topics: { "pass-news": false } });
    const { scenarioId } = await buildScenario(
      { name: "Opted in again", model: "party", domain: [["cohort", "=", "optin"]] },
      [{ name: "A" }],
    );
    await ok("PATCH", `/scenarios/${scenarioId}`, { topics: ["pass-news"] });
    await ok("POST", `/scenarios/${scenarioId}/run`);
    const enroller = enrollerStub(bindings, Number(scenarioId));
    // The run's pass finds the party opted out, and enrolls nobody.
    await runDurableObjectAlarm(enroller);
    await expect.poll(() => enroller.status()).toMatchObject({ cursor: null });
    expect(await recordCount(scenarioId)).toBe(0);
    expect(await dueIds(Date.now())).not.toContain(scenarioId);

    await ok("PATCH", "/parties/optin1/preferences", { topics: { "pass-news": true } });
    expect(await dueIds(Date.now())).toContain(scenarioId);
    await enrollmentCycle(Date.now() + PENDING_GRACE_MS);
    await runDurableObjectAlarm(enroller);
    await expect.poll(() => recordCount(scenarioId)).toBe(1);
    expect(await dueIds(Date.now())).not.toContain(scenarioId);

    await ok("PATCH", `/scenarios/${scenarioId}`, { topics: [] });
    expect(await dueIds(Date.now())).toContain(scenarioId);
    await ok("POST", `/scenarios/${scenarioId}/stop`);
  });

  it("a party written by an update_record activity owes a pass to the scenarios whose domain reads party fields", async () => {
    const sales = await runningScenario("Sales of gold parties", [["party.tier", "=", "gold"]], "sale");
    await ok("PUT", "/records/party/gold1", { name: "G", cohort: "gold" });
    const upgrade = await buildScenario({ name: "Upgrade", model: "party", domain: [["cohort", "=", "gold"]] }, [
      { name: "Gold", action: "update_record", settings: { fields: { tier: "gold" } } },
    ]);
    // The API's party write owes it a pass too: settled here, so only the action's write is left to owe one.
    await env.DB.prepare("UPDATE scenarios SET enroll_pending = 0, enroll_pending_since = NULL WHERE id = ?")
      .bind(sales.scenarioId)
      .run();
    expect(await dueIds(Date.now() + PENDING_GRACE_MS)).not.toContain(sales.scenarioId);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(upgrade.scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(upgrade.scenarioId) });
    expect(await ok("POST", "/jobs/process")).toMatchObject({ done: 1 });
    expect((await ok("GET", "/records/party/gold1")).fields).toMatchObject({ tier: "gold" });
    expect(await dueIds(Date.now() + PENDING_GRACE_MS)).toContain(sales.scenarioId);
    for (const id of [sales.scenarioId, upgrade.scenarioId]) await ok("POST", `/scenarios/${id}/stop`);
  });

  it("a time-relative domain is passed at the granularity it can change", async () => {
    const minutes = await runningScenario("Last half hour", [["seen", ">", { now: "-PT30M" }]]);
    const days = await runningScenario("Last month", [["seen", ">", { now: "-P30D" }]]);
    const topOfHour = Math.ceil(Date.now() / HOUR) * HOUR + 1_000;
    const midHour = topOfHour + 20 * 60_000;
    expect(await dueIds(topOfHour)).toEqual(expect.arrayContaining([minutes.scenarioId, days.scenarioId]));
    expect(await dueIds(midHour)).toContain(minutes.scenarioId);
    expect(await dueIds(midHour)).not.toContain(days.scenarioId);
    for (const id of [minutes.scenarioId, days.scenarioId]) await ok("POST", `/scenarios/${id}/stop`);
  });

  it("timeGranularityMs reads the finest unit of the domain's now values, between a cycle and an hour", () => {
    expect(timeGranularityMs([["a", "=", 1]])).toBeNull();
    expect(timeGranularityMs([["a", ">", { now: "-P30D" }]])).toBe(HOUR);
    expect(timeGranularityMs([["a", ">", { now: "-PT2H" }]])).toBe(HOUR);
    expect(timeGranularityMs(["OR", ["a", ">", { now: "-P1D" }], ["b", "<", { now: "PT10M" }]])).toBe(CYCLE_MS);
    expect(timeGranularityMs([["a", "<", { now: "PT0S" }]])).toBe(CYCLE_MS);
  });

  it("passes still run on demand, for records that did not come through the write path", async () => {
    const { scenarioId } = await runningScenario("On demand", [["cohort", "=", "sql"]]);
    await env.DB.prepare(
      `INSERT INTO records (model, id, fields, party_id, created_at, updated_at)
       VALUES ('party', 'sql1', '{"name":"S","cohort":"sql"}', 'sql1', 1, 1)`,
    ).run();
    expect(await dueIds(Date.now() + PENDING_GRACE_MS)).not.toContain(scenarioId);
    expect((await api("POST", "/jobs/enroll")).status).toBe(200);
    expect(await recordCount(scenarioId)).toBe(1);
  });
});
