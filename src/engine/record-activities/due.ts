/**
 * What is due and what is parked, spelled once: the due predicate that the claim's head and the Scheduler's next
 * wake-up both read, the pause (`PAUSED`), and the statements that park and unpark record activities (a blocked
 * scenario record, a scenario's re-parking, a short claim's heal).
 */
import { type SQL, sql } from "drizzle-orm";
import { listedBy } from "../../db/claims";

/** SQL: 1 when the record activity (aliased `row`) cannot run now — its scenario is not running or its record is blocked. */
export const PAUSED = (row: string) =>
  `(coalesce((SELECT state != 'running' FROM scenarios WHERE id = ${row}.scenario_id), 1)
    OR coalesce((SELECT blocked FROM scenario_records WHERE id = ${row}.scenario_record_id), 1))`;

/**
 * SQL: the record activities of shard `shard` (a bound parameter) that wait and could run, in the due index: paused
 * rows (`parked`) are not in its range. With `at <= now` they are due; with `at > now`, the ones to wake up for.
 */
const WAITING_IN_SHARD = (shard: string) => `shard = ${shard} AND parked = 0 AND state = 'waiting'`;

/** SQL: the ids listed by the live claims of shard `?1` at `?2` (the claims table is small: the claims in flight). */
const LIVE_HELD = listedBy("l", "lc.shard = ?1 AND lc.until > ?2");

/**
 * SQL: the head of a shard's work, `?1` shard, `?2` now, `?3` limit: waiting rows due, in the due index's order, but
 * those live claims hold. Rows of lapsed claims are due like the others: they are taken over in their turn.
 */
export const DUE_HEAD = `
  SELECT id, at FROM record_activities
  WHERE ${WAITING_IN_SHARD("?1")} AND at <= ?2 AND id NOT IN (${LIVE_HELD})
  ORDER BY at LIMIT ?3`;

/** The next future due time in a shard, among record activities that could run (scenario running, not blocked). */
export async function nextDueAt(d1: D1Database, shard: number, now: number): Promise<number | null> {
  // One step down the due index: paused rows (stopped scenario, blocked record) are not in the range.
  const row = await d1
    .prepare(`SELECT min(at) AS at FROM record_activities WHERE ${WAITING_IN_SHARD("?")} AND at > ?`)
    .bind(shard, now)
    .first<{ at: number | null }>();
  return row?.at ?? null;
}

/**
 * A short claim's heal, `shard`, `now`, `limit` as the claim's: rows at the head that cannot run (their scenario
 * stopped, or their record was blocked, while a pass or a transition was still writing them) may stand in front of
 * rows that can. Parked now, they never will.
 */
export function parkHeadThatCannotRun(d1: D1Database, o: { shard: number; now: number; limit: number }) {
  return d1
    .prepare(
      `UPDATE record_activities SET parked = 1
       WHERE id IN (SELECT id FROM (${DUE_HEAD})) AND ${PAUSED("record_activities")}`,
    )
    .bind(o.shard, o.now, o.limit);
}

/** A blocked scenario record's waiting (and running) record activities leave the due index. */
export function parkScenarioRecord(d1: D1Database, scenarioRecordId: number) {
  return d1
    .prepare("UPDATE record_activities SET parked = 1 WHERE scenario_record_id = ? AND state IN ('waiting', 'running')")
    .bind(scenarioRecordId);
}

/** An unblocked scenario record's waiting (and running) record activities come back, unless their scenario is paused. */
export function unparkScenarioRecord(d1: D1Database, scenarioRecordId: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET parked = ${PAUSED("record_activities")}
         WHERE scenario_record_id = ? AND state IN ('waiting', 'running')`,
    )
    .bind(scenarioRecordId);
}

/**
 * SQL, a chunk of a scenario's re-parking: the `parked` flag of the record activities `ids` selects (a query whose
 * rows have an `id`) brought in line with their scenario's and record's state, where it differs.
 */
export function reparkScenarioChunk(ids: SQL): SQL {
  const paused = sql.raw(PAUSED("record_activities"));
  return sql`UPDATE record_activities SET parked = ${paused}
        WHERE id IN (SELECT id FROM (${ids})) AND state IN ('waiting', 'running') AND parked != ${paused}`;
}
