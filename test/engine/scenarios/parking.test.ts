import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { queryOf } from "../../../src/engine/scenarios/scenario-range";
import { finishReparking, parkChunkSql, reparkScenario } from "../../../src/engine/scenarios/scenarios";
import { withMailer } from "../../../src/services";
import { ok } from "../../helpers";
import { buildScenario, ScriptedMailer, testEngine } from "../fixtures";

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: Array.from({ length: 6 }, (_, i) => ({
      id: `park${i}`,
      name: `P${i}`,
      email: `p${i}@example.com`,
      cohort: "park",
    })),
  });
});

async function parkedFlags(scenarioId: string) {
  const { results } = await env.DB.prepare(
    "SELECT sr.record_id AS record, ra.parked FROM record_activities ra JOIN scenario_records sr ON sr.id = ra.scenario_record_id WHERE ra.scenario_id = ? AND ra.state = 'waiting' ORDER BY sr.record_id",
  )
    .bind(scenarioId)
    .all<{ record: string; parked: number }>();
  return Object.fromEntries(results.map((r) => [r.record, r.parked]));
}

describe("paused record activities are parked out of the due index", () => {
  it("stop parks the scenario's waiting rows, run unparks them, blocking parks a record's rows", async () => {
    const { scenarioId } = await buildScenario({ name: "Park", model: "party", domain: [["cohort", "=", "park"]] }, [
      { name: "Later", delay: "P1D" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });
    expect(Object.values(await parkedFlags(scenarioId))).toEqual([0, 0, 0, 0, 0, 0]);

    const srs = (await ok("GET", `/scenarios/${scenarioId}/records`)).items as { id: string; record_id: string }[];
    const park0 = srs.find((r) => r.record_id === "park0")?.id;
    await ok("POST", `/scenario-records/${park0}/block`);
    expect((await parkedFlags(scenarioId)).park0).toBe(1);
    expect((await parkedFlags(scenarioId)).park1).toBe(0);

    await ok("POST", `/scenarios/${scenarioId}/stop`);
    expect(Object.values(await parkedFlags(scenarioId))).toEqual([1, 1, 1, 1, 1, 1]);
    // Unblocking while the scenario is stopped keeps the record's rows parked.
    await ok("POST", `/scenario-records/${park0}/unblock`);
    expect((await parkedFlags(scenarioId)).park0).toBe(1);
    await ok("POST", `/scenario-records/${park0}/block`);

    await ok("POST", `/scenarios/${scenarioId}/run`);
    const flags = await parkedFlags(scenarioId);
    expect(flags.park0).toBe(1);
    expect([flags.park1, flags.park2, flags.park3, flags.park4, flags.park5]).toEqual([0, 0, 0, 0, 0]);
    await ok("POST", `/scenario-records/${park0}/unblock`);
    expect((await parkedFlags(scenarioId)).park0).toBe(0);
  });

  it("re-parks a scenario chunk by chunk, each flag from the state at that moment", async () => {
    const { scenarioId } = await buildScenario({ name: "Chunks", model: "party", domain: [["cohort", "=", "park"]] }, [
      { name: "Later", delay: "P1D" },
      { name: "Later too", delay: "P2D" },
    ]);
    const id = Number(scenarioId);
    const setState = (state: string) =>
      env.DB.prepare("UPDATE scenarios SET state = ? WHERE id = ?").bind(state, id).run();
    await setState("running");
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: id });
    const flags = async () => Object.values(await parkedFlags(scenarioId));
    expect(await flags()).toHaveLength(6);
    // Two rows per record; chunks of 5 rows leave some records half done between chunks, and each chunk catches up.
    await setState("stopped");
    await reparkScenario(engine, id, { chunk: 5 });
    const { results } = await env.DB.prepare(
      "SELECT count(*) AS n, sum(parked) AS parked FROM record_activities WHERE scenario_id = ? AND state = 'waiting'",
    )
      .bind(id)
      .all<{ n: number; parked: number }>();
    expect(results[0]).toEqual({ n: 12, parked: 12 });
    await setState("running");
    await reparkScenario(engine, id, { chunk: 5 });
    const after = await env.DB.prepare(
      "SELECT sum(parked) AS parked FROM record_activities WHERE scenario_id = ? AND state = 'waiting'",
    )
      .bind(id)
      .first<{ parked: number }>();
    expect(after?.parked).toBe(0);
  });

  it("rows a stopped scenario left unparked (a pass racing the stop) are parked by the claim, not stuck in front", async () => {
    await ok("POST", "/records/party/batch", {
      records: Array.from({ length: 80 }, (_, i) => ({ id: `stale${i}`, name: `S${i}`, cohort: "stale" })),
    });
    const stale = await buildScenario({ name: "Stale", model: "party", domain: [["cohort", "=", "stale"]] }, [
      { name: "Now" },
    ]);
    const live = await buildScenario({ name: "Live", model: "party", domain: [["id", "=", "park1"]] }, [
      { name: "Now" },
    ]);
    const { engine } = testEngine();
    for (const s of [stale, live]) {
      await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(s.scenarioId).run();
      await enroll(engine, { scenarioId: Number(s.scenarioId) });
    }
    // Stopped behind the re-parking's back, and the live row due last: in every shard, stale rows come first.
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE id = ?").bind(stale.scenarioId).run();
    await env.DB.prepare("UPDATE record_activities SET at = at + 1 WHERE scenario_id = ?").bind(live.scenarioId).run();
    const row = await env.DB.prepare("SELECT id, shard FROM record_activities WHERE scenario_id = ?")
      .bind(live.scenarioId)
      .first<{ id: number; shard: number }>();
    await new Promise((r) => setTimeout(r, 5));
    let more = true;
    for (let i = 0; more && i < 20; i++) {
      more = (await processDue(withMailer(engine, new ScriptedMailer()), { shard: row?.shard, limit: 3 })).more;
    }
    const done = await env.DB.prepare("SELECT state FROM record_activities WHERE id = ?").bind(row?.id).first();
    expect(done?.state).toBe("done");
    const parked = await env.DB.prepare(
      "SELECT count(*) AS n FROM record_activities WHERE scenario_id = ? AND shard = ? AND parked = 0",
    )
      .bind(stale.scenarioId, row?.shard)
      .first<{ n: number }>();
    expect(parked?.n).toBe(0);
  });

  it("an unfinished re-parking is finished by the minute sweep", async () => {
    const { scenarioId } = await buildScenario(
      { name: "Unfinished", model: "party", domain: [["cohort", "=", "park"]] },
      [{ name: "Later", delay: "P1D" }],
    );
    const { engine } = testEngine();
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    // A stop whose request died after the first (here empty) chunk: the state and the cursor, flags untouched.
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped', repark_from = 0, updated_at = ? WHERE id = ?")
      .bind(Date.now() - 120_000, scenarioId)
      .run();
    expect(Object.values(await parkedFlags(scenarioId))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(await finishReparking(engine)).toBe(1);
    expect(Object.values(await parkedFlags(scenarioId))).toEqual([1, 1, 1, 1, 1, 1]);
    const after = await env.DB.prepare("SELECT repark_from FROM scenarios WHERE id = ?").bind(scenarioId).first();
    expect(after?.repark_from).toBeNull();
    expect(await finishReparking(engine)).toBe(0);
  });

  it("a re-parking chunk reads the scenario's rows by index ranges", async () => {
    for (const after of [0, 5, 4 * 2 ** 32 + 7]) {
      for (const q of parkChunkSql(4, after, 10).map(queryOf)) {
        const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
          .bind(...q.params)
          .all<{ detail: string }>();
        const plan = results.map((r) => r.detail).join("\n");
        expect(plan).not.toMatch(/\bSCAN record_activities\b/);
        expect(plan).toMatch(/record_activities_once \(/);
        if (after < 2 ** 32) expect(plan).toMatch(/record_activities_scenario_legacy \(scenario_id=\?/);
      }
    }
  });

  it("claims and wake-ups read the due index by range, whatever the paused backlog", async () => {
    const plan = async (sql: string, ...params: unknown[]) =>
      (
        await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .bind(...params)
          .all<{ detail: string }>()
      ).results.map((r) => r.detail);
    const due = await plan(
      "SELECT id, at FROM record_activities WHERE shard = ?1 AND parked = 0 AND state = 'waiting' AND at <= ?2 ORDER BY at LIMIT 100",
      0,
      Date.now(),
    );
    expect(due.join("\n")).toMatch(/record_activities_due \(shard=\? AND parked=\? AND at<\?\)/);
    expect(due.join("\n")).not.toMatch(/TEMP B-TREE/);
    const next = await plan(
      "SELECT min(at) AS at FROM record_activities WHERE shard = ? AND parked = 0 AND state = 'waiting' AND at > ?",
      0,
      Date.now(),
    );
    expect(next.join("\n")).toMatch(/record_activities_due \(shard=\? AND parked=\? AND at>\?\)/);
    // A report's done rows of an activity in a period: its counts by day, by primary key (no record activity read).
    const done = await plan(
      "SELECT sum(done), sum(opened) FROM activity_days WHERE activity_id = ? AND day >= ? AND day < ?",
      1,
      "2026-01-01",
      "2026-02-01",
    );
    expect(done.join("\n")).toMatch(/activity_days USING INDEX \S+ \(activity_id=\? AND day>\? AND day<\?\)/);
    // Retention's done rows that sent no e-mail, by range (their partial index holds those only).
    const unemailed = await plan(
      "SELECT id FROM record_activities WHERE state = 'done' AND emailed = 0 AND at >= ? AND at < ?",
      0,
      Date.now(),
    );
    expect(unemailed.join("\n")).toMatch(/record_activities_done_unemailed \(at>\? AND at<\?\)/);
  });
});
