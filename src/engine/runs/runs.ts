import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import { takePage } from "../../db/page";
import { activities, type RecordActivityState, recordActivities, scenarioRecords } from "../../db/schema";
import { notFound } from "../../errors";
import type { Engine } from "../ports";
import { positionOf, recordActivitiesOfScenario } from "../scenarios/scenario-range";
import { getScenarioRow } from "../scenarios/scenarios";

export type ScenarioRecordRow = typeof scenarioRecords.$inferSelect;
export type RecordActivityRow = typeof recordActivities.$inferSelect;

interface Page {
  limit: number;
  cursor: number | null;
}

export async function listScenarioRecords(
  e: Engine,
  scenarioId: number,
  filter: Page & { blocked?: boolean },
): Promise<{ items: ScenarioRecordRow[]; nextCursor: number | null }> {
  await getScenarioRow(e, scenarioId);
  const rows = await e.db
    .select()
    .from(scenarioRecords)
    .where(
      and(
        eq(scenarioRecords.scenarioId, scenarioId),
        filter.blocked === undefined ? undefined : eq(scenarioRecords.blocked, filter.blocked),
        filter.cursor === null ? undefined : gt(scenarioRecords.id, filter.cursor),
      ),
    )
    .orderBy(asc(scenarioRecords.id))
    .limit(filter.limit + 1)
    .all();
  return takePage(rows, filter.limit, (r) => r.id);
}

export async function getScenarioRecord(e: Engine, id: number): Promise<ScenarioRecordRow> {
  const row = await e.db.select().from(scenarioRecords).where(eq(scenarioRecords.id, id)).get();
  if (!row) throw notFound("scenario record", id);
  return row;
}

export async function listRecordActivities(
  e: Engine,
  scenarioId: number,
  filter: Page & { state?: RecordActivityState; activityId?: number; scenarioRecordId?: number },
): Promise<{ items: RecordActivityRow[]; nextCursor: number | null }> {
  await getScenarioRow(e, scenarioId);
  if (filter.activityId !== undefined) {
    const activity = await e.db
      .select({ scenarioId: activities.scenarioId })
      .from(activities)
      .where(eq(activities.id, filter.activityId))
      .get();
    if (!activity || activity.scenarioId !== scenarioId) return { items: [], nextCursor: null };
  }
  // In the scenario's order (scenario record, then activity: scenario-range.ts), after the cursor's record activity.
  const from = filter.cursor === null ? undefined : await positionOf(e, scenarioId, filter.cursor);
  const where = and(
    sql`1`,
    filter.state === undefined ? undefined : stateIs(filter.state),
    filter.activityId === undefined ? undefined : eq(recordActivities.activityId, filter.activityId),
  );
  const order = [asc(recordActivities.scenarioRecordId), asc(recordActivities.activityId)];
  let rows: RecordActivityRow[];
  if (filter.scenarioRecordId !== undefined) {
    // One scenario record's: a range of `record_activities_once`, whatever the planner (SQLite 3.40 seeks the partial
    // index of older ones by its condition rather than by the scenario record, which walks the scenario's older rows).
    rows = await e.db
      .select()
      .from(recordActivities)
      .where(
        and(
          eq(recordActivities.scenarioRecordId, filter.scenarioRecordId),
          eq(recordActivities.scenarioId, scenarioId),
          where,
          from ? sql`(scenario_record_id, activity_id) > (${from.sr}, ${from.activity})` : undefined,
        ),
      )
      .orderBy(...order)
      .limit(filter.limit + 1)
      .all();
  } else {
    const page = recordActivitiesOfScenario({
      columns: sql`id, scenario_record_id, activity_id`,
      scenarioId,
      where,
      from,
      limit: filter.limit + 1,
    });
    // The page's rows by primary key.
    rows = await e.db
      .select()
      .from(recordActivities)
      .where(sql`${recordActivities.id} IN (SELECT id FROM (${page}))`)
      .orderBy(...order)
      .all();
  }
  return takePage(await showRunning(e, rows), filter.limit, (r) => r.id);
}

export async function getRecordActivity(e: Engine, id: number): Promise<RecordActivityRow> {
  const row = await e.db.select().from(recordActivities).where(eq(recordActivities.id, id)).get();
  if (!row) throw notFound("record activity", id);
  return (await showRunning(e, [row]))[0] as RecordActivityRow;
}

/** SQL: every record activity a claim lists (the claims table holds only the claims in flight: it is small). */
const HELD = sql`SELECT j.value FROM claims c, json_each(c.ids) j`;

/**
 * The state as shown: a record activity a claim holds is `waiting` in its row (a claim writes only its `claims` row)
 * and shown `running`; rows claimed before the upgrade are `running` in their row.
 */
function stateIs(state: RecordActivityState): SQL {
  if (state === "running") {
    return sql`(${recordActivities.state} = 'running' OR (${recordActivities.state} = 'waiting' AND ${recordActivities.id} IN (${HELD})))`;
  }
  if (state === "waiting")
    return sql`(${recordActivities.state} = 'waiting' AND ${recordActivities.id} NOT IN (${HELD}))`;
  return eq(recordActivities.state, state);
}

/** Shows the waiting rows that a claim holds as `running`: one read of the claims table, none when none waits. */
async function showRunning(e: Engine, rows: RecordActivityRow[]): Promise<RecordActivityRow[]> {
  const waiting = rows.filter((r) => r.state === "waiting").map((r) => r.id);
  if (waiting.length === 0) return rows;
  const { results } = await e.d1
    .prepare(
      `SELECT DISTINCT j.value AS id FROM claims c, json_each(c.ids) j WHERE j.value IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(waiting))
    .all<{ id: number }>();
  const held = new Set(results.map((r) => r.id));
  return rows.map((r) => (held.has(r.id) ? { ...r, state: "running" } : r));
}
