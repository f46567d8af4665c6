import { SHARD_COUNT, shardSql } from "../../db/shards";
import { shiftBy } from "../../domain/duration";
import type { Domain } from "../../domain/types";
import { trackingSecretOf } from "../../signing/keys";
import type { Engine } from "../ports";
import { OPTED_OUT } from "../recipients/preferences";
import { recordFilter } from "../records/matching";
import { MAX_SCENARIO_ID, rangeOf, SCENARIO_ID_TOO_HIGH } from "../scenarios/scenario-range";
import { directEnrollmentDone, owePass, passBegins, type ScenarioToEnroll } from "./passes";

/**
 * SQL: the highest scenario record id of a scenario's range, or the id its numbering starts after when it has none
 * (one read: the primary key's last entry in the range). Binds the range's `lo`, `hi`, `base` (scenario-range.ts).
 */
const HIGHEST_IN_RANGE =
  "coalesce((SELECT id FROM scenario_records WHERE id BETWEEN ? AND ? ORDER BY id DESC LIMIT 1), ?)";

/** Records examined per statement (a rowid range): bounds each statement's time however large the table. */
export const ENROLL_CHUNK = 25_000;

export interface EnrollResult {
  scenarios: number;
  enrolled: number;
  record_activities: number;
  failed: { scenario_id: string; error: string }[];
  /** Scenarios whose pass goes on in the background (their Enroller, in bounded steps): the budget ran out. */
  background: string[];
}

/** What `POST /api/jobs/enroll` enrolls in the request before it hands the rest to the Enrollers. */
export const ENROLL_REQUEST_BUDGET_MS = 10_000;

interface RootActivity {
  id: number;
  condition: string | null;
  delay: string | null;
}

/**
 * Enrollment: for each running scenario (or the one given), the records of its model that match its domain, are not
 * yet in it and whose party has not unsubscribed from it become scenario records, each with a waiting record activity
 * for every root activity whose condition it meets, due at now + delay. Set-based: a few statements per chunk of
 * records, never a loop over records. Safe to run twice or concurrently: a record enters a scenario at most once.
 * `only` restricts the pass to some records of one model (enrollment right after they were written).
 */
export async function enroll(
  e: Engine,
  opts: {
    scenarioId?: number;
    only?: { model: string; ids: string[] };
    /**
     * Bounds the call: past this many ms, a scenario's pass stops after its current chunk and goes on in its Enroller
     * from there, and the scenarios not reached yet are handed to theirs (the first one always makes progress).
     */
    budgetMs?: number;
    /** Records a step of a pass reads (ENROLL_CHUNK by default). */
    chunk?: number;
  } = {},
): Promise<EnrollResult> {
  const result: EnrollResult = { scenarios: 0, enrolled: 0, record_activities: 0, failed: [], background: [] };
  const deadline = opts.budgetMs === undefined ? undefined : Date.now() + opts.budgetMs;
  for (const scenario of await runningScenarios(e, opts.scenarioId, opts.only?.model)) {
    result.scenarios++;
    if (deadline !== undefined && result.scenarios > 1 && Date.now() >= deadline) {
      await e.enrollment.start(scenario.id);
      result.background.push(String(scenario.id));
      continue;
    }
    try {
      const r = await enrollScenario(e, scenario, { onlyIds: opts.only?.ids ?? null, deadline, chunk: opts.chunk });
      result.enrolled += r.enrolled;
      result.record_activities += r.recordActivities;
      if (opts.only) await directEnrollmentDone(e, scenario.id);
      if (r.next !== null) {
        await e.enrollment.start(scenario.id, r.next);
        result.background.push(String(scenario.id));
      }
    } catch (err) {
      // One failing scenario is logged and skipped; the others still run.
      const error = err instanceof Error ? err.message : String(err);
      console.error(`enrollment of scenario ${scenario.id} failed: ${error}`);
      result.failed.push({ scenario_id: String(scenario.id), error });
      // The records just written stay owed to the scenario: the next cycle passes it (see passes.ts).
      if (opts.only) {
        await owePass(e, scenario.id)
          .run()
          .catch((markErr) => console.error(`scenario ${scenario.id}: the owed pass could not be noted`, markErr));
      }
    }
  }
  return result;
}

/** The running scenarios, all or one, optionally of one model. */
export async function runningScenarios(e: Engine, scenarioId?: number, model?: string): Promise<ScenarioToEnroll[]> {
  let sql = "SELECT id, model, domain FROM scenarios WHERE state = 'running'";
  const params: (string | number)[] = [];
  if (scenarioId !== undefined) {
    sql += " AND id = ?";
    params.push(scenarioId);
  }
  if (model !== undefined) {
    sql += " AND model = ?";
    params.push(model);
  }
  const { results } = await e.d1
    .prepare(`${sql} ORDER BY id`)
    .bind(...params)
    .all<ScenarioToEnroll>();
  return results;
}

export interface PassProgress {
  enrolled: number;
  recordActivities: number;
  /** The rowid to continue from when the pass stopped at its deadline; null when it went through every record. */
  next: number | null;
  /** Rows D1 read for the pass (its `meta.rows_read`): what the pass costs, and how a test sees it stays linear. */
  rowsRead: number;
}

/**
 * One enrollment pass over a scenario: its records by rowid chunks from `from`, or the `onlyIds` records. With a
 * `deadline` (epoch ms), it stops after the chunk that crosses it and says where to continue, so a pass over millions
 * of records can run as a series of bounded steps (see the Enroller Durable Object).
 */
export async function enrollScenario(
  e: Engine,
  scenario: ScenarioToEnroll,
  o: { onlyIds?: string[] | null; from?: number; deadline?: number; chunk?: number } = {},
): Promise<PassProgress> {
  const onlyIds = o.onlyIds ?? null;
  const chunk = o.chunk ?? ENROLL_CHUNK;
  const now = Date.now();
  const filter = recordFilter(scenario.model, JSON.parse(scenario.domain) as Domain, now);
  const [rootRows, tagged] = await e.d1.batch([
    e.d1
      .prepare("SELECT id, condition, delay FROM activities WHERE scenario_id = ? AND parent_id IS NULL ORDER BY id")
      .bind(scenario.id),
    e.d1.prepare("SELECT 1 AS tagged FROM scenario_topics WHERE scenario_id = ? LIMIT 1").bind(scenario.id),
  ]);
  const roots = (rootRows?.results ?? []) as RootActivity[];
  // Parties opted out of one of the scenario's topics are not enrolled (checked only when it has topics).
  const optedOut = (tagged?.results.length ?? 0) > 0 ? `AND NOT ${OPTED_OUT(String(scenario.id), "r.party_id")}` : "";
  const rootDue = roots.map((a) => ({ ...a, at: shiftBy(now, a.delay) }));
  const rootStatements = rootDue.map((a) => rootActivityInsert(e.d1, scenario, a, now));
  const progress: PassProgress = { enrolled: 0, recordActivities: 0, next: null, rowsRead: 0 };
  if (scenario.id >= MAX_SCENARIO_ID) throw new Error(SCENARIO_ID_TOO_HIGH(scenario.id));
  const { lo, hi, base } = rangeOf(scenario.id);

  // Some records (just written): one step over their ids, through the (model, id) key. All records: rowid ranges.
  let ranges: ([number, number] | null)[] = [null];
  if (!onlyIds) {
    // A full pass begins: whatever the scenario was owed (passes.ts) is covered by it.
    if ((o.from ?? 0) === 0) await passBegins(e, scenario.id);
    const bounds = await e.d1
      // From the table's end backwards (left to choose, the planner walks the whole model through its index).
      .prepare("SELECT rowid AS hi FROM records NOT INDEXED WHERE model = ? AND rowid >= ? ORDER BY rowid DESC LIMIT 1")
      .bind(scenario.model, o.from ?? 0)
      .first<{ hi: number | null }>();
    if (bounds?.hi == null) return progress;
    ranges = [];
    for (let lo = o.from ?? 0; lo <= bounds.hi; lo += chunk) ranges.push([lo, lo + chunk - 1]);
  }

  for (const [i, range] of ranges.entries()) {
    // At least one chunk a step, so every step makes progress.
    if (i > 0 && range !== null && o.deadline !== undefined && Date.now() > o.deadline) {
      progress.next = range[0];
      break;
    }
    // The scenario records this chunk creates are those of the scenario's range (scenario-range.ts) above its highest
    // id now (ids only grow; the root statements read that id range from the table itself, never the whole scenario
    // through an index). A concurrent pass of the same scenario commits its rows with their root record activities,
    // so picking them up too changes nothing (the insert ignores rows that exist).
    const before =
      (await e.d1.prepare(`SELECT ${HIGHEST_IN_RANGE} AS id`).bind(lo, hi, base).first<{ id: number }>())?.id ?? base;
    // A chunk never numbers past its range (which would be the next scenario's): 2^32 - 1 scenario records a scenario.
    if (before + (range ? chunk : (onlyIds?.length ?? 0)) > hi) {
      throw new Error(`scenario ${scenario.id} has no scenario record ids left in its range`);
    }
    const subset = range ? "AND r.rowid BETWEEN ? AND ?" : "AND r.id IN (SELECT value FROM json_each(?))";
    // A rowid range is read from the table itself: left to choose, the planner takes the (model, party) index and
    // walks every record of the model for each chunk, which makes a pass quadratic.
    const source = range ? `records r NOT INDEXED ${filter.partyJoin}` : filter.from;
    // With a TRACKING_SECRET the unsubscribe token's secret is derived from the id (src/signing/tokens.ts): none stored.
    const storedToken = trackingSecretOf(e.env) === null ? "lower(hex(randomblob(16)))" : "''";
    const insertRecords = e.d1
      .prepare(
        // Ids are the scenario's next ones: its range's highest id (read once: an uncorrelated subquery is computed
        // once a statement, before the first row is inserted) plus the row's number. OR IGNORE would also swallow a
        // primary-key conflict, so none may arise: the ids are above every id of the range, and distinct.
        `INSERT OR IGNORE INTO scenario_records
           (id, scenario_id, model, record_id, party_id, blocked, token, created_at)
         SELECT ${HIGHEST_IN_RANGE} + row_number() OVER (),
                ?, r.model, r.id, r.party_id, 0, ${storedToken}, ?
         FROM ${source}
         WHERE ${filter.where} ${subset}
           AND NOT EXISTS (SELECT 1 FROM scenario_records sr
                           WHERE sr.scenario_id = ? AND sr.model = r.model AND sr.record_id = r.id)
           AND (r.party_id IS NULL OR NOT EXISTS (SELECT 1 FROM unsubscriptions u
                                                  WHERE u.scenario_id = ? AND u.party_id = r.party_id))
           ${optedOut}
           -- Checked in the chunk's own transaction: a scenario stopped during a pass gets no new rows.
           AND EXISTS (SELECT 1 FROM scenarios s WHERE s.id = ? AND s.state = 'running')`,
      )
      .bind(
        lo,
        hi,
        base,
        scenario.id,
        now,
        ...filter.params,
        ...(range ?? [JSON.stringify(onlyIds)]),
        scenario.id,
        scenario.id,
        scenario.id,
      );
    // The scenario's count goes up by what the insert just created, in the same transaction: `changes()` is the row
    // count of the statement before it (one row written a chunk, where a trigger would write one a record).
    const count = e.d1
      .prepare("UPDATE scenarios SET count_records = count_records + changes() WHERE id = ? AND changes() > 0")
      .bind(scenario.id);
    // Each root statement is followed by its activity's waiting count going up by what it created.
    const roots = rootStatements.flatMap((s, i) => [
      s.bind(...s.params(before, hi)),
      e.d1
        .prepare("UPDATE activities SET count_waiting = count_waiting + changes() WHERE id = ? AND changes() > 0")
        .bind(rootDue[i]?.id),
    ]);
    const results = await e.d1.batch([insertRecords, count, ...roots]);
    progress.enrolled += results[0]?.meta.changes ?? 0;
    for (const r of results) progress.rowsRead += r.meta.rows_read ?? 0;
    for (let i = 2; i < results.length; i += 2) progress.recordActivities += results[i]?.meta.changes ?? 0;
  }
  if (progress.recordActivities > 0) {
    const earliest = Math.min(...rootDue.map((a) => a.at));
    await e.wake(Array.from({ length: SHARD_COUNT }, (_, shard) => ({ shard, at: earliest })));
  }
  return progress;
}

/**
 * The statement creating one root activity's record activities for the scenario records a chunk just created,
 * filtered by the activity's condition (compiled to SQL, like the domain).
 */
function rootActivityInsert(d1: D1Database, scenario: ScenarioToEnroll, a: RootActivity & { at: number }, now: number) {
  const condition =
    a.condition === null ? null : recordFilter(scenario.model, JSON.parse(a.condition), now, "condition");
  const join = condition ? `JOIN records r ON r.model = sr.model AND r.id = sr.record_id ${condition.partyJoin}` : "";
  const where = condition ? `AND ${condition.where}` : "";
  const stmt = d1.prepare(
    `INSERT OR IGNORE INTO record_activities
       (scenario_record_id, activity_id, scenario_id, shard, state, at, due_at, attempts, created_at, updated_at)
     SELECT sr.id, ?, ?, ${shardSql("sr.id")}, 'waiting', ?, ?, 0, ?, ?
     FROM scenario_records sr NOT INDEXED ${join}
     WHERE sr.scenario_id = ? AND sr.id > ? AND sr.id <= ? ${where}`,
  );
  return {
    bind: stmt.bind.bind(stmt),
    params: (before: number, hi: number) => [
      a.id,
      scenario.id,
      a.at,
      a.at,
      now,
      now,
      scenario.id,
      before,
      hi,
      ...(condition?.params ?? []),
    ],
  };
}
