import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { CRON_ENROLL, CRON_SWEEP } from "../../src/crons";
import { SHARD_COUNT, shardOf } from "../../src/db/shards";
import { enroll } from "../../src/engine/enrollment/enroll";
import worker from "../../src/index";
import { enrollerStub, schedulerStub } from "../../src/scheduler/client";
import { buildScenario, recordActivityOf, testEngine } from "../engine/fixtures";
import { ok } from "../helpers";

beforeAll(async () => {
  await ok("PUT", "/records/party/michael", { name: "Michael Scott", email: "michael@example.com" });
});

async function runCron(cron: string) {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env as never, ctx);
  await waitOnExecutionContext(ctx);
}

/** A running scenario with one action-less root activity, enrolled without waking any scheduler. */
async function silentlyEnrolled(name: string, delay: string | null = null) {
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", "michael"]] }, [
    { name: "Step", delay },
    { name: "Next", parent: "Step" },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  const ra = await recordActivityOf(built.scenarioId, built.activity.Step as string, "michael");
  return { ...built, ra: ra as NonNullable<typeof ra>, shard: shardOf(Number(ra?.scenario_record_id)) };
}

describe("scheduler", () => {
  it("an alarm executes its shard's due work; delivered twice, it executes it once", async () => {
    const s = await silentlyEnrolled("Alarm twice");
    const stub = schedulerStub(env as never, s.shard);
    // Woken for later, so the alarm does not fire by itself before the test delivers it (twice) by hand.
    await stub.wake({ shard: s.shard, at: Date.now() + 3_600_000 });
    expect(await stub.pending()).toHaveLength(1);
    // Two deliveries of the same alarm, concurrently.
    await Promise.all([
      runInDurableObject(stub, (instance) => instance.alarm()),
      runInDurableObject(stub, (instance) => instance.alarm()),
    ]);
    await runDurableObjectAlarm(stub);
    const step = await recordActivityOf(s.scenarioId, s.activity.Step as string, "michael");
    expect(step).toMatchObject({ state: "done", attempts: 1 });
    expect(await recordActivityOf(s.scenarioId, s.activity.Next as string, "michael")).toMatchObject({
      state: "done",
      attempts: 1,
    });
  });

  it("a claim its previous instance left is taken over by the next alarm at once, not after the claim timeout", async () => {
    const s = await silentlyEnrolled("Dead instance");
    const stub = schedulerStub(env as never, s.shard);
    await stub.wake({ shard: s.shard, at: Date.now() + 3_600_000 });
    // What an instance killed mid-alarm leaves: its claim in D1 (five minutes to go), and its key in the journal.
    const until = Date.now() + 5 * 60_000;
    await env.DB.prepare("INSERT INTO claims (key, shard, until, ids, created_at) VALUES ('killed', ?, ?, ?, ?)")
      .bind(s.shard, until, JSON.stringify([s.ra.id]), Date.now())
      .run();
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("INSERT INTO journal_claims (key, at) VALUES ('killed', ?)", Date.now());
    });
    await runInDurableObject(stub, (instance) => instance.alarm());
    expect(await recordActivityOf(s.scenarioId, s.activity.Step as string, "michael")).toMatchObject({ state: "done" });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM claims WHERE key = 'killed'").first()).toEqual({ n: 0 });
    const left = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec("SELECT count(*) AS n FROM journal_claims").one(),
    );
    expect(left).toEqual({ n: 0 });
  });

  it("re-arms itself from D1 for the next due time it was never told about", async () => {
    const s = await silentlyEnrolled("Re-arm", "PT1H");
    const stub = schedulerStub(env as never, s.shard);
    // Woken for much later, and the alarm delivered by hand: one that fires by itself could still be running below.
    await stub.wake({ shard: s.shard, at: Date.now() + 7_200_000 });
    await runInDurableObject(stub, (instance) => instance.alarm());
    const pending = await stub.pending();
    expect(pending.some((at: number) => Math.abs(at - Date.parse(s.ra.at as string)) < 1_000)).toBe(true);
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
  });

  it("rejects malformed wake-ups (RPC payloads are validated)", async () => {
    const stub = schedulerStub(env as never, 0);
    expect(await stub.wake({ shard: -1, at: "soon" })).toMatchObject({
      ok: false,
      error: expect.stringContaining("invalid wake-up"),
    });
  });

  it("the minute sweep catches work whose wake-up was lost", async () => {
    const s = await silentlyEnrolled("Lost alarm");
    await runCron(CRON_SWEEP);
    for (let shard = 0; shard < SHARD_COUNT; shard++) await runDurableObjectAlarm(schedulerStub(env as never, shard));
    expect(await recordActivityOf(s.scenarioId, s.activity.Step as string, "michael")).toMatchObject({ state: "done" });
  });

  it("the five-minute cron starts an enrollment pass for a running scenario that owes one", async () => {
    const built = await buildScenario({ name: "Cron enroll", model: "party", domain: [["id", "=", "michael"]] }, [
      { name: "A" },
    ]);
    // Running, with a pass owed (as when the pass a run starts could not be started).
    await env.DB.prepare(
      "UPDATE scenarios SET state = 'running', enroll_pending = 1, enroll_pending_since = 0 WHERE id = ?",
    )
      .bind(built.scenarioId)
      .run();
    await runCron(CRON_ENROLL);
    const enroller = enrollerStub(env as never, Number(built.scenarioId));
    expect(await enroller.status()).toMatchObject({ scenarioId: Number(built.scenarioId) });
    // Its alarm may already have fired by itself; if not, fire it now.
    await runDurableObjectAlarm(enroller);
    await expect.poll(async () => (await ok("GET", `/scenarios/${built.scenarioId}/records`)).items.length).toBe(1);
    await expect.poll(() => enroller.status()).toMatchObject({ cursor: null, again: false });
  });
});
