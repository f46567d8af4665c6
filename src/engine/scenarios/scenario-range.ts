import { type SQL, sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import { SHARD_COUNT } from "../../db/shards";
import { invalid } from "../../errors";
import type { Engine } from "../ports";

/**
 * Scenario records get ids in their scenario's range: scenario `s`'s are `s * 2^32 + n` (n = s % 8 + 1, then one
 * more each, within the scenario: `rangeOf`; allocated by enrollment: src/engine/enrollment/enroll.ts). So a scenario's record
 * activities are a range of `record_activities_once (scenario_record_id, activity_id)` and no index of record
 * activities by scenario has to be written. Scenario records created before (small autoincrement ids, all below 2^32) keep theirs: their record
 * activities are in the partial index `record_activities_scenario_legacy (scenario_id, scenario_record_id,
 * activity_id) WHERE scenario_record_id < 2^32`. Every reader of a scenario's record activities asks both arms
 * (`recordActivitiesOfScenario`), legacy ones first in ascending order.
 *
 * Ids stay below 2^52 (safe integers, the 16 digits of a public id) while scenario ids are below 2^20
 * (MAX_SCENARIO_ID): creating a scenario whose id would be higher fails (src/engine/scenarios/scenarios.ts).
 */
export const SCENARIO_RECORD_RANGE = 4294967296;

/** Scenario ids stay below this (2^20), so scenario record ids stay below 2^52. */
export const MAX_SCENARIO_ID = 1048576;

export const SCENARIO_ID_TOO_HIGH = (id: number) =>
  `scenario id ${id} is not below ${MAX_SCENARIO_ID}: its scenario records' ids would not stay below 2^52`;

/**
 * The lowest and highest scenario record id of the scenario's range, and `base`, the id its numbering starts after:
 * `lo + scenarioId % SHARD_COUNT`. Shards are `id % SHARD_COUNT` and `lo` is a multiple of it, so numbering every
 * scenario from `lo + 1` would put each scenario's first record in shard 1, its second in shard 2…: the offset spreads
 * small scenarios over the shards too (a large one is even whatever its start).
 */
export const rangeOf = (scenarioId: number): { lo: number; hi: number; base: number } => ({
  lo: scenarioId * SCENARIO_RECORD_RANGE,
  hi: scenarioId * SCENARIO_RECORD_RANGE + SCENARIO_RECORD_RANGE - 1,
  base: scenarioId * SCENARIO_RECORD_RANGE + (scenarioId % SHARD_COUNT),
});

/** A place in a scenario's record activities' order: a scenario record id and an activity id. */
export interface Position {
  sr: number;
  activity: number;
}

/** After this position come the record activities of scenario records with higher ids (any activity id is below). */
export const afterScenarioRecord = (sr: number): Position => ({ sr, activity: Number.MAX_SAFE_INTEGER });

export interface OfScenario {
  /** What each arm selects from `record_activities` (it must include `scenario_record_id, activity_id`). */
  columns: SQL;
  scenarioId: number;
  /** Any further condition on the record activity (both arms). */
  where?: SQL;
  desc?: boolean;
  /** Ascending: only the rows after this position; descending: only the rows at it or before it. */
  from?: Position;
  /** Ascending only: only the rows of scenario records with ids up to this one. */
  until?: SQL;
  /** Rows at most (each arm reads at most this many from its index); -1: all. */
  limit: number;
  /** In no particular order (with `limit` -1: a set, e.g. the ids to update), so nothing is sorted. */
  unordered?: boolean;
}

const R = SCENARIO_RECORD_RANGE;

/**
 * SQL: the scenario's record activities ordered by (scenario_record_id, activity_id), ascending (or descending), at
 * most `limit`: the legacy arm through `record_activities_scenario_legacy`, the range arm through
 * `record_activities_once`, each ordered and limited by its index, then merged (`UNION ALL`, at most 2 × `limit`
 * rows sorted). Legacy scenario record ids are all below 2^32 and range ones at or above, so ascending order is the
 * legacy rows then the range rows. Never an `OR` of the two: SQLite would then read and sort every row of the
 * scenario.
 *
 * Each arm has its bounds in the order it must seek by: given two bounds on one side (the partial index's
 * `scenario_record_id < 2^32` and a position, say), SQLite seeks by the first and filters by the other, so the
 * position and `until` come before the range's own bounds (else each page would read its arm from its start). The
 * partial index's condition is written out (a bound parameter would not match it). An arm the position leaves empty
 * is left out. SQLite may seek the partial index by its condition even given one scenario record id (3.40 does): one
 * scenario record's record activities are read through `record_activities_once` instead (src/engine/runs/runs.ts).
 */
export function recordActivitiesOfScenario(o: OfScenario): SQL {
  const dir = sql.raw(o.desc ? "DESC" : "ASC");
  const order = o.unordered ? sql`` : sql`ORDER BY scenario_record_id ${dir}, activity_id ${dir}`;
  const where = o.where ?? sql`1`;
  const { lo, hi } = rangeOf(o.scenarioId);
  const p = o.from;
  const at = (op: string) => sql`(scenario_record_id, activity_id) ${sql.raw(op)} (${p?.sr}, ${p?.activity})`;
  const until = o.until === undefined ? [] : [sql`scenario_record_id <= ${o.until}`];
  const scenario = sql`scenario_id = ${o.scenarioId}`;
  const legacyBelow = sql.raw(`scenario_record_id < ${R}`);
  const arms: SQL[] = [];
  const arm = (bounds: SQL[]) =>
    arms.push(
      sql`SELECT * FROM (SELECT ${o.columns} FROM record_activities WHERE ${sql.join(bounds, sql` AND `)} AND ${where}
          ${order} LIMIT ${o.limit})`,
    );
  if (!o.desc) {
    if (!p) arm([scenario, ...until, legacyBelow]);
    else if (p.sr < R) arm([scenario, at(">"), ...until, legacyBelow]);
    if (!p || p.sr < lo) arm([sql`scenario_record_id >= ${lo}`, ...until, sql`scenario_record_id <= ${hi}`]);
    else if (p.sr <= hi) arm([at(">"), ...until, sql`scenario_record_id <= ${hi}`]);
  } else {
    if (!p || p.sr > hi) arm([sql`scenario_record_id <= ${hi}`, sql`scenario_record_id >= ${lo}`]);
    else if (p.sr >= lo) arm([at("<="), sql`scenario_record_id >= ${lo}`]);
    if (!p || p.sr >= R) arm([scenario, legacyBelow]);
    else arm([scenario, at("<="), legacyBelow]);
  }
  // A position past the scenario's range (not one of its record activities) leaves nothing.
  if (arms.length === 0) arm([sql`0`]);
  return sql`SELECT * FROM (${sql.join(arms, sql` UNION ALL `)}) ${order} LIMIT ${o.limit}`;
}

/** A drizzle SQL object as a D1 statement (to batch it with others). */
export function statementOf(d1: D1Database, query: SQL): D1PreparedStatement {
  const { sql: text, params } = queryOf(query);
  return d1.prepare(text).bind(...params);
}

/** A drizzle SQL object's text and parameters. */
export const queryOf = (query: SQL): { sql: string; params: unknown[] } => DIALECT.sqlToQuery(query);

const DIALECT = new SQLiteSyncDialect();

/**
 * Where a list continues after a record activity (a cursor): its scenario record and activity, read by its primary
 * key. One no longer in D1 (retention removed it meanwhile) or of another scenario cannot be continued from.
 */
export async function positionOf(e: Engine, scenarioId: number, recordActivityId: number): Promise<Position> {
  const row = await e.d1
    .prepare(
      "SELECT scenario_id, scenario_record_id AS sr, activity_id AS activity FROM record_activities WHERE id = ?",
    )
    .bind(recordActivityId)
    .first<Position & { scenario_id: number }>();
  if (row?.scenario_id !== scenarioId) {
    throw invalid(`cursor: record activity ${recordActivityId} is not one of this scenario's (any more): list again`);
  }
  return { sr: row.sr, activity: row.activity };
}
