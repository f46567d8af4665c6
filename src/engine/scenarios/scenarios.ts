import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import { inIds } from "../../db/chunk";
import { takePage } from "../../db/page";
import {
  activities,
  type FrequencyCap,
  type ScenarioState,
  scenarioRecords,
  scenarios,
  subscriptionConfirmations,
} from "../../db/schema";
import { SHARD_COUNT } from "../../db/shards";
import { parseDomain } from "../../domain/parse";
import type { Domain } from "../../domain/types";
import { conflict, invalid, notFound } from "../../errors";
import type { SendWindow } from "../../recipients/window";
import { owePass } from "../enrollment/passes";
import type { Engine } from "../ports";
import { checkFrequencyCap, checkSendWindow, checkTimeZone } from "../recipients/rules";
import { checkTopicsExist, setScenarioTopicsStatements, topicsOfScenarios } from "../recipients/topics";
import { reparkScenarioChunk } from "../record-activities/due";
import { countMatching } from "../records/matching";
import { requireModel } from "../records/models";
import { assertDoubleOptIn } from "./double-opt-in";
import {
  afterScenarioRecord,
  MAX_SCENARIO_ID,
  rangeOf,
  recordActivitiesOfScenario,
  SCENARIO_ID_TOO_HIGH,
  statementOf,
} from "./scenario-range";

export type ScenarioRow = typeof scenarios.$inferSelect;
export interface ScenarioCounts {
  recordCount: number;
  recordCountBlocked: number;
  blockRate: number;
  /** Scenario records whose recipient confirmed the subscription (double opt-in). */
  recordCountConfirmed: number;
}
export type Scenario = ScenarioRow & ScenarioCounts & { topics: string[] };

export interface ScenarioInput {
  name: string;
  model: string;
  domain: Domain;
  unsubscribable: boolean;
  goal: Domain | null;
  sendWindow?: SendWindow | null;
  timeZone?: string | null;
  frequencyCap?: FrequencyCap | null;
  /** Topic ids; a party opted out of one of them is not enrolled and its sends stop. */
  topics?: string[];
  /** Requires a confirmed subscription: the tree must hold to double opt-in's rules to run (engine/scenarios/double-opt-in.ts). */
  doubleOptIn?: boolean;
}

/** The recipient settings' own rules (a 400 naming the field). */
async function checkRecipientSettings(e: Engine, input: Partial<ScenarioInput>) {
  checkSendWindow(input.sendWindow);
  checkTimeZone(input.timeZone);
  checkFrequencyCap(input.frequencyCap);
  if (input.topics !== undefined) await checkTopicsExist(e, input.topics);
}

export const rate = (part: number, whole: number) => (whole === 0 ? 0 : Math.round((part / whole) * 100) / 100);

function checkName(name: string) {
  if (name.trim().length === 0) throw invalid("name: must not be empty");
}

export async function createScenario(e: Engine, input: ScenarioInput): Promise<Scenario> {
  checkName(input.name);
  await requireModel(e.db, input.model, "model");
  parseDomain(input.domain, "domain");
  await checkRecipientSettings(e, input);
  const { topics, ...values } = input;
  if (input.goal !== null) parseDomain(input.goal, "goal");
  const now = Date.now();
  const row = await e.db
    .insert(scenarios)
    .values({ ...values, state: "draft", createdAt: now, updatedAt: now })
    .returning()
    .get();
  // Ids come from AUTOINCREMENT (never reused): past 2^20 scenarios ever created, a scenario's records could not have
  // ids in its range below 2^52 (scenario-range.ts). Refused, not created.
  if (row.id >= MAX_SCENARIO_ID) {
    await e.db.delete(scenarios).where(eq(scenarios.id, row.id));
    throw conflict(SCENARIO_ID_TOO_HIGH(row.id));
  }
  if (topics?.length) await e.d1.batch(setScenarioTopicsStatements(e, row.id, topics));
  return withCounts(e, row);
}

export async function getScenarioRow(e: Engine, id: number): Promise<ScenarioRow> {
  const row = await e.db.select().from(scenarios).where(eq(scenarios.id, id)).get();
  if (!row) throw notFound("scenario", id);
  return row;
}

export async function getScenario(e: Engine, id: number): Promise<Scenario> {
  return withCounts(e, await getScenarioRow(e, id));
}

export async function listScenarios(
  e: Engine,
  page: { limit: number; cursor: number | null; state?: ScenarioState },
): Promise<{ items: Scenario[]; nextCursor: number | null }> {
  const rows = await e.db
    .select()
    .from(scenarios)
    .where(
      and(
        page.cursor === null ? undefined : gt(scenarios.id, page.cursor),
        page.state ? eq(scenarios.state, page.state) : undefined,
      ),
    )
    .orderBy(asc(scenarios.id))
    .limit(page.limit + 1)
    .all();
  const { items, nextCursor } = takePage(rows, page.limit, (r) => r.id);
  return { items: await withCountsMany(e, items), nextCursor };
}

export async function updateScenario(e: Engine, id: number, patch: Partial<ScenarioInput>): Promise<Scenario> {
  const current = await getScenarioRow(e, id);
  if (patch.name !== undefined) checkName(patch.name);
  if (patch.model !== undefined && patch.model !== current.model) {
    if (current.state !== "draft")
      throw conflict(`scenario ${id} is ${current.state}: its model can only change in draft`);
    const enrolled = await e.db
      .select({ id: scenarioRecords.id })
      .from(scenarioRecords)
      .where(eq(scenarioRecords.scenarioId, id))
      .limit(1)
      .get();
    if (enrolled) throw conflict(`scenario ${id} already has records: its model cannot change`);
    await requireModel(e.db, patch.model, "model");
  }
  if (patch.domain !== undefined) parseDomain(patch.domain, "domain");
  await checkRecipientSettings(e, patch);
  if (patch.doubleOptIn === true && !current.doubleOptIn && current.state === "running") {
    const tree = await e.db.select().from(activities).where(eq(activities.scenarioId, id)).all();
    assertDoubleOptIn(id, tree, "require it while running");
  }
  const { topics, ...values } = patch;
  if (patch.goal != null) parseDomain(patch.goal, "goal");
  const row = await e.db
    .update(scenarios)
    .set({ ...values, updatedAt: Date.now() })
    .where(eq(scenarios.id, id))
    .returning()
    .get();
  if (!row) throw notFound("scenario", id);
  if (topics !== undefined) await e.d1.batch(setScenarioTopicsStatements(e, id, topics));
  // Other records may match the new domain, or its topics no longer keep some parties out: the next cycle passes the
  // scenario (when it runs).
  if (patch.domain !== undefined || topics !== undefined) await owePass(e, id).run();
  return withCounts(e, row);
}

/** Deletes a scenario that is not running, with its activities and records (cascade). */
export async function deleteScenario(e: Engine, id: number): Promise<void> {
  const current = await getScenarioRow(e, id);
  if (current.state === "running") throw conflict(`scenario ${id} is running: stop it before deleting it`);
  await e.db.delete(scenarios).where(eq(scenarios.id, id));
}

const TRANSITIONS: Record<"run" | "stop" | "draft", { from: ScenarioState[]; to: ScenarioState }> = {
  run: { from: ["draft", "stopped"], to: "running" },
  stop: { from: ["running"], to: "stopped" },
  draft: { from: ["stopped"], to: "draft" },
};

/**
 * Moves a scenario through draft -> running -> stopped -> running | draft. The update is conditional on the state
 * read, so two concurrent transitions cannot both succeed. Running again wakes the scheduler: waiting record
 * activities whose time has passed run now.
 */
export async function transitionScenario(e: Engine, id: number, action: keyof typeof TRANSITIONS): Promise<Scenario> {
  const current = await getScenarioRow(e, id);
  const { from, to } = TRANSITIONS[action];
  if (!from.includes(current.state)) {
    throw conflict(
      current.state === to
        ? `scenario ${id} is already ${to}`
        : `scenario ${id} is ${current.state}: "${action}" is only allowed from ${from.join(" or ")}`,
    );
  }
  // The state, the first chunk of parked flags and where the others start change together (one D1 batch); the other
  // chunks follow, and the minute sweep finishes them if this request cannot (see `repark_from`). Rows not yet
  // re-parked cannot run by mistake: claims check the scenario and the record, and park what they find paused.
  const now = Date.now();
  const [changed, first] = await e.d1.batch<{ next: number | null }>([
    e.d1
      // Running owes a pass (started right away by the caller; the cycle makes up for a start that was lost).
      .prepare(
        `UPDATE scenarios SET state = ?1, updated_at = ?2, repark_from = 0,
           enroll_pending = enroll_pending + (?1 = 'running'),
           enroll_pending_since = CASE WHEN ?1 = 'running' THEN COALESCE(enroll_pending_since, ?2) ELSE enroll_pending_since END
         WHERE id = ?3 AND state = ?4`,
      )
      .bind(to, now, id, current.state),
    ...parkChunk(e, id, 0, PARK_CHUNK),
  ]);
  if ((changed?.meta.changes ?? 0) === 0) throw conflict(`scenario ${id} changed state meanwhile; read it again`);
  const next = first?.results[0]?.next ?? null;
  if (next !== null) await reparkScenario(e, id, { from: next });
  if (to === "running") {
    await e.wake(Array.from({ length: SHARD_COUNT }, (_, shard) => ({ shard, at: now })));
  }
  const row = await getScenarioRow(e, id);
  return withCounts(e, row);
}

/** Record activities re-parked a statement: bounded, so a scenario with millions of them stays within D1's limits. */
export const PARK_CHUNK = 50_000;

/**
 * Re-parks the scenario's waiting (and claimed) record activities of scenario records with ids above `after`, in the
 * order of its record activities (scenario record, then activity: scenario-range.ts): the first `chunk` of them and
 * the rest of the last one's scenario record (so a chunk ends with a scenario record, at most the scenario's activity
 * count over `chunk`). The first statement moves the scenario's `repark_from` to that scenario record's id (null when
 * the chunk comes back short: it holds all that is left) and returns it as `next`; the second re-parks up to it, read
 * from the scenario's row (so the chunk is read once to find its end).
 */
export function parkChunkSql(scenarioId: number, after: number, chunk: number): SQL[] {
  const first = recordActivitiesOfScenario({
    columns: sql`scenario_record_id, activity_id`,
    scenarioId,
    from: afterScenarioRecord(after),
    limit: chunk,
  });
  const { hi } = rangeOf(scenarioId);
  const ids = recordActivitiesOfScenario({
    columns: sql`id, scenario_record_id, activity_id`,
    scenarioId,
    from: afterScenarioRecord(after),
    until: sql`(SELECT coalesce(repark_from, ${hi}) FROM scenarios WHERE id = ${scenarioId})`,
    limit: -1,
    unordered: true,
  });
  return [
    sql`UPDATE scenarios SET repark_from = (SELECT CASE WHEN count(*) < ${chunk} THEN NULL ELSE max(scenario_record_id) END
                                            FROM (${first}))
        WHERE id = ${scenarioId}
        RETURNING repark_from AS next`,
    reparkScenarioChunk(ids),
  ];
}

const parkChunk = (e: Engine, scenarioId: number, after: number, chunk: number) =>
  parkChunkSql(scenarioId, after, chunk).map((q) => statementOf(e.d1, q));

/**
 * Brings the `parked` flag of a scenario's waiting record activities in line with its state, in chunks of scenario
 * records after `from` (each flag is computed from the state at that moment, so concurrent transitions converge).
 */
export async function reparkScenario(
  e: Engine,
  scenarioId: number,
  o: { from?: number; chunk?: number } = {},
): Promise<void> {
  const chunk = o.chunk ?? PARK_CHUNK;
  let from: number | null = o.from ?? 0;
  while (from !== null) {
    const results: D1Result<{ next: number | null }>[] = await e.d1.batch(parkChunk(e, scenarioId, from, chunk));
    from = results[0]?.results[0]?.next ?? null;
  }
}

/**
 * Finishes the re-parking that transitions left unfinished (a request that died), once the transition is a minute old:
 * run by the minute sweep.
 */
export async function finishReparking(e: Engine): Promise<number> {
  const { results } = await e.d1
    .prepare("SELECT id, repark_from FROM scenarios WHERE repark_from IS NOT NULL AND updated_at < ?")
    .bind(Date.now() - 60_000)
    .all<{ id: number; repark_from: number }>();
  for (const r of results) await reparkScenario(e, r.id, { from: r.repark_from });
  return results.length;
}

async function withCounts(e: Engine, row: ScenarioRow): Promise<Scenario> {
  return (await withCountsMany(e, [row]))[0] as Scenario;
}

/**
 * Adds record counts: a preview of the domain's matches in draft, the scenario records otherwise (kept on the
 * scenario's row by triggers: no scenario record is read).
 */
async function withCountsMany(e: Engine, rows: ScenarioRow[]): Promise<Scenario[]> {
  const counts = new Map<number, { n: number; blocked: number }>();
  for (const row of rows) counts.set(row.id, { n: row.countRecords, blocked: row.countBlocked });
  const confirmed = new Map<number, number>();
  const optInIds = rows.filter((r) => r.state !== "draft" && r.doubleOptIn).map((r) => r.id);
  if (optInIds.length > 0) {
    const stats = await e.db
      .select({ scenarioId: subscriptionConfirmations.scenarioId, n: sql<number>`count(*)` })
      .from(subscriptionConfirmations)
      .where(inIds(subscriptionConfirmations.scenarioId, optInIds))
      .groupBy(subscriptionConfirmations.scenarioId)
      .all();
    for (const s of stats) confirmed.set(s.scenarioId, s.n);
  }
  const now = Date.now();
  const tags = await topicsOfScenarios(
    e,
    rows.map((r) => r.id),
  );
  return Promise.all(
    rows.map(async (row) => {
      const topics = tags.get(row.id) ?? [];
      if (row.state === "draft") {
        const n = await countMatching(e.d1, row.model, row.domain, now).catch((err) => {
          console.error(`scenario ${row.id}: domain preview failed`, err);
          return 0;
        });
        return { ...row, topics, recordCount: n, recordCountBlocked: 0, blockRate: 0, recordCountConfirmed: 0 };
      }
      const c = counts.get(row.id) ?? { n: 0, blocked: 0 };
      return {
        ...row,
        topics,
        recordCount: c.n,
        recordCountBlocked: c.blocked,
        blockRate: rate(c.blocked, c.n),
        recordCountConfirmed: confirmed.get(row.id) ?? 0,
      };
    }),
  );
}
