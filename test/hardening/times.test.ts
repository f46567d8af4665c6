import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SHARD_COUNT } from "../../src/db/shards";
import { shiftBy } from "../../src/domain/duration";
import { enroll } from "../../src/engine/enrollment/enroll";
import { schedulerStub } from "../../src/scheduler/client";
import { buildScenario, recordActivities, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const FIVE_YEARS_MS = 5 * 366 * 86_400_000;

beforeAll(async () => {
  await ok("PUT", "/records/party/michael", { name: "Michael Scott", email: "michael@example.com" });
});

describe("bounded times: every duration is checked when saved", () => {
  it("an activity delay lies between PT0S and P5Y; beyond is a 400 naming the bound", async () => {
    const s = await ok("POST", "/scenarios", { name: "Delays", model: "party" });
    const post = (delay: string) => api("POST", `/scenarios/${s.id}/activities`, { name: "Wait", delay });
    for (const good of ["PT0S", "P5Y", "P60M", "P260W", "P1826D", "PT43824H"]) {
      expect((await post(good)).status, good).toBe(201);
    }
    for (const bad of ["P6Y", "P61M", "P262W", "P1831D", "PT43932H", "P99999999999999D", "PT9007199254740991S"]) {
      expectError(await post(bad), 400, "delay: must be at most P5Y");
    }
    expectError(await post("-PT1S"), 400, "delay: must not be negative");
    expectError(await post("soon"), 400, "delay:", "is not an ISO 8601 duration");
    // The same rule on a change.
    const a = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Later" });
    expectError(await api("PATCH", `/activities/${a.id}`, { delay: "P10Y" }), 400, "delay: must be at most P5Y");
  });

  it('a {"now": …} shift lies within ±P200Y, in scenario domains and activity conditions alike', async () => {
    const domain = (now: string) => [["birthday", ">", { now }]];
    expect((await api("POST", "/scenarios", { name: "Old", model: "party", domain: domain("-P120Y") })).status).toBe(
      201,
    );
    for (const bad of ["P9999999999999D", "-P201Y", "P2401M"]) {
      expectError(
        await api("POST", "/scenarios", { name: "Far", model: "party", domain: domain(bad) }),
        400,
        "domain[0][2].now: must be at most P200Y either way",
      );
    }
    const s = await ok("POST", "/scenarios", { name: "Cond", model: "party" });
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, { name: "x", condition: domain("P300Y") }),
      400,
      "condition[0][2].now: must be at most P200Y",
    );
  });
});

describe("bounded times: rows saved before the bounds never break the engine", () => {
  it("shiftBy never returns an invalid or unbounded time", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(shiftBy(now, "P99999999999999D")).toBe(now + FIVE_YEARS_MS);
    expect(shiftBy(now, "garbage")).toBe(now + FIVE_YEARS_MS);
    expect(shiftBy(now, "-P1D")).toBe(now);
    expect(shiftBy(now, "PT1H")).toBe(now + 3_600_000);
  });

  it("a child with an out-of-bounds delay in the database gets a bounded due time; lists and the scheduler carry on", async () => {
    const built = await buildScenario({ name: "Legacy delay", model: "party", domain: [["id", "=", "michael"]] }, [
      { name: "Step" },
      { name: "Far", parent: "Step" },
      { name: "Near", parent: "Step", delay: "PT1H" },
    ]);
    // As saved by an older version that did not bound delays.
    await env.DB.prepare("UPDATE activities SET delay = 'P99999999999999D' WHERE id = ?")
      .bind(built.activity.Far)
      .run();
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
    const processed = await api("POST", "/jobs/process");
    expect(processed.status, JSON.stringify(processed.body)).toBe(200);
    const list = await api("GET", `/scenarios/${built.scenarioId}/record-activities?limit=50`);
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    const byActivity = new Map(
      (list.body.items as { activity_id: string; state: string; at: string | null }[]).map((r) => [r.activity_id, r]),
    );
    expect(byActivity.get(built.activity.Step as string)?.state).toBe("done");
    const far = byActivity.get(built.activity.Far as string);
    expect(far?.state).toBe("waiting");
    const farAt = Date.parse(far?.at as string);
    expect(farAt).toBeGreaterThan(Date.now() + FIVE_YEARS_MS - 60_000);
    expect(farAt).toBeLessThanOrEqual(Date.now() + FIVE_YEARS_MS);
    expect(byActivity.get(built.activity.Near as string)?.state).toBe("waiting");
    // The scheduler accepted its wake-ups: every shard holds only times an alarm can take.
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      const pending = await schedulerStub(env as never, shard).pending();
      for (const at of pending) expect(new Date(at).getTime()).toBeLessThan(Date.now() + FIVE_YEARS_MS + 86_400_001);
    }
  });

  it("the Scheduler takes any wake-up time without throwing (clamped to what an alarm holds)", async () => {
    const stub = schedulerStub(env as never, 3);
    for (const at of [8.64e21, 1e300]) {
      expect(await stub.wake({ shard: 3, at })).toEqual({ ok: true });
    }
    const alarm = await runInDurableObject(stub, (_, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThan(Date.now() + FIVE_YEARS_MS);
    expect(alarm).toBeLessThanOrEqual(Date.now() + FIVE_YEARS_MS + 86_400_000);
    // A time in the past is overdue work: it runs at once.
    expect(await stub.wake({ shard: 3, at: -5 })).toEqual({ ok: true });
  });

  it("a waiting record activity always has a due time or a reason", async () => {
    const { results } = await env.DB.prepare(
      "SELECT count(*) AS n FROM record_activities WHERE state = 'waiting' AND at IS NULL AND reason IS NULL",
    ).all<{ n: number }>();
    expect(results[0]?.n).toBe(0);
    const all = await env.DB.prepare("SELECT count(*) AS n FROM record_activities").first<{ n: number }>();
    expect(all?.n).toBeGreaterThan(0);
    const rows = await recordActivities("1");
    expect(Array.isArray(rows)).toBe(true);
  });
});
