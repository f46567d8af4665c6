import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildScenario } from "../fixtures";

/** Adds `count` scenario records to the scenario, each with a done record activity of its first activity. */
async function fill(scenarioId: string, count: number) {
  await env.DB.prepare(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
     INSERT INTO scenario_records (scenario_id, model, record_id, token, created_at)
     SELECT ?1, 'party', 'del' || ?1 || '-' || i, '', 0 FROM n`,
  )
    .bind(scenarioId, count)
    .run();
  await env.DB.prepare(
    `INSERT INTO record_activities (scenario_record_id, activity_id, scenario_id, shard, state, at, created_at, updated_at)
     SELECT sr.id, (SELECT min(id) FROM activities WHERE scenario_id = ?1), ?1, 0, 'done', 0, 0, 0
     FROM scenario_records sr WHERE sr.scenario_id = ?1`,
  )
    .bind(scenarioId)
    .run();
}

describe("deleting a scenario", () => {
  // Its scenario records go by cascade, and SQLite finds each one's record activities (the foreign key's cascade) by
  // `scenario_record_id` alone: an index led by that column (`record_activities_once`) keeps it one seek a scenario
  // record. Without one, each scenario record deleted would scan all record activities (here ~300 × 3,300 rows).
  it("reads the record activities of its scenario records by index, not once a scenario record", async () => {
    const other = await buildScenario({ name: "Kept", model: "party", domain: [] }, [{ name: "A" }]);
    await fill(other.scenarioId, 3000);
    const gone = await buildScenario({ name: "Deleted", model: "party", domain: [] }, [{ name: "A" }]);
    await fill(gone.scenarioId, 300);
    // The statement deleteScenario runs (src/engine/scenarios/scenarios.ts).
    const deleted = await env.DB.prepare("DELETE FROM scenarios WHERE id = ?").bind(gone.scenarioId).run();
    expect(deleted.meta.rows_read).toBeLessThan(50_000);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM record_activities WHERE scenario_id IN (?, ?)")
      .bind(other.scenarioId, gone.scenarioId)
      .first<{ n: number }>();
    expect(left?.n).toBe(3000);
  });
});
