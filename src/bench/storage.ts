import { enroll, enrollScenario, runningScenarios } from "../engine/enrollment/enroll";
import { scenariosDueForPass } from "../engine/enrollment/passes";
import { processDue } from "../engine/execution/execute";
import { DAY_MS, retentionSweep } from "../engine/retention/retention";
import { transitionScenario } from "../engine/scenarios/scenarios";
import type { Bindings } from "../env";
import { buildServices } from "../services";
import { type RequestFacts, recordHit } from "../tracking/hits";
import { type D1Totals, meteredD1 } from "./meter";

/**
 * What the storage benchmarks measure, in D1's own units (`meta.rows_written`, `rows_read`, `size_after`): the work
 * runs here, in one request, through the same engine verbs the Scheduler and the Enroller use, over a metered D1
 * binding. Wake-ups go nowhere, so no Durable Object alarm takes part of the work out of the meter.
 */

async function sizeNow(db: D1Database, totals: D1Totals): Promise<number> {
  await db.prepare("SELECT 1").all();
  return totals.sizeAfter ?? 0;
}

/** Runs a draft scenario, enrolls it and sends everything due until nothing is: its rows written and bytes added. */
export async function meteredSend(env: Bindings, scenarioId: number) {
  const { db, totals } = meteredD1(env.DB);
  const metered = { ...env, DB: db } as Bindings;
  const engine = buildServices(metered, { wake: async () => {} });
  const sizeBefore = await sizeNow(db, totals);
  const start = { ...totals };
  totals.writtenBy = {};
  totals.readBy = {};
  await transitionScenario(engine, scenarioId, "run");
  await enroll(engine, { scenarioId });
  let emails = 0;
  for (;;) {
    const counts = await processDue(engine);
    emails += counts.done;
    if (counts.claimed === 0 && !counts.more) break;
  }
  const rowsWritten = totals.rowsWritten - start.rowsWritten;
  const rowsRead = totals.rowsRead - start.rowsRead;
  const sizeAfter = await sizeNow(db, totals);
  await transitionScenario(engine, scenarioId, "stop");
  return {
    emails,
    rows_written: rowsWritten,
    rows_read: rowsRead,
    size_before: sizeBefore,
    size_after: sizeAfter,
    written_by: totals.writtenBy,
    read_by: totals.readBy,
  };
}

/**
 * One five-minute enrollment cycle at `now`, as the cron decides it, with the passes it starts run here (what each
 * Enroller would do), and, with `force`, a full pass of the scenario for comparison (what every cycle cost before).
 */
export async function meteredEnrollmentCycle(env: Bindings, now: number, forceScenarioId: number | null) {
  const { db, totals } = meteredD1(env.DB);
  const engine = buildServices({ ...env, DB: db } as Bindings, { wake: async () => {} });
  const due = await scenariosDueForPass(engine, now);
  for (const s of due) await enrollScenario(engine, s);
  const cycle = { passes: due.length, rows_read: totals.rowsRead, rows_written: totals.rowsWritten };
  let full: number | null = null;
  if (forceScenarioId !== null) {
    const [scenario] = await runningScenarios(engine, forceScenarioId);
    if (scenario) {
      const before = totals.rowsRead;
      await enrollScenario(engine, scenario);
      full = totals.rowsRead - before;
    }
  }
  return { ...cycle, full_pass_rows_read: full };
}

/**
 * Retention of everything sent so far, as the minute sweep would do it a window later: `now` is a day past the window
 * of `days`, the sweep runs until nothing is old enough (no budget), and every statement is metered.
 */
export async function meteredRetention(env: Bindings, days: number) {
  const { db, totals } = meteredD1(env.DB);
  const engine = buildServices({ ...env, DB: db } as Bindings, { wake: async () => {} });
  const now = Date.now() + (days + 1) * DAY_MS;
  const sweep = { steps: 0, emails: 0, hits: 0, links: 0, record_activities: 0, objects: 0 };
  const started = Date.now();
  for (;;) {
    const r = await retentionSweep(engine, now, days, { budgetMs: 600_000, maxSteps: 10_000 });
    for (const k of Object.keys(sweep) as (keyof typeof sweep)[]) sweep[k] += r[k];
    if (r.done) break;
  }
  return {
    ...sweep,
    ms: Date.now() - started,
    rows_written: totals.rowsWritten,
    rows_read: totals.rowsRead,
    written_by: totals.writtenBy,
    read_by: totals.readBy,
  };
}

/**
 * What dropping a table costs in D1's own units, beside deleting its rows: two tables of `rows` rows with one index
 * each, one emptied by `DELETE`, the other by `DROP TABLE`, each statement's `meta.rows_written`.
 */
export async function meteredDropTable(env: Bindings, rows: number) {
  const written = async (sql: string, ...params: unknown[]) =>
    (
      await env.DB.prepare(sql)
        .bind(...params)
        .run()
    ).meta.rows_written ?? 0;
  const fill = (table: string) =>
    written(
      `INSERT INTO ${table} (id, body, at)
       WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       SELECT i, printf('%0200d', i), i FROM n`,
      rows,
    );
  const results: Record<string, number> = { rows };
  for (const table of ["bench_delete", "bench_drop"]) {
    await env.DB.prepare(`DROP TABLE IF EXISTS ${table}`).run();
    await env.DB.prepare(
      `CREATE TABLE ${table} (id INTEGER PRIMARY KEY, body TEXT NOT NULL, at INTEGER NOT NULL)`,
    ).run();
    await env.DB.prepare(`CREATE INDEX ${table}_at ON ${table} (at)`).run();
    results[`${table}_insert_rows_written`] = await fill(table);
  }
  results.delete_rows_written = await written("DELETE FROM bench_delete");
  results.drop_table_rows_written = await written("DROP TABLE bench_drop");
  await env.DB.prepare("DROP TABLE bench_delete").run();
  return results;
}

/** A browser's user agent: the hits below are a person's, an hour after the send (past the timing rule). */
const BROWSER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";

/**
 * Rows written by a person's first open of an e-mail, and by a click on one already opened, each flushed alone (as at
 * low traffic, where a hit shares its write with no other): the hit, the flags, the counts and the report's day, over
 * a metered D1. `opens` e-mails of the scenario (from the `offset`-th) are opened, the first `clicks` of them then
 * clicked.
 */
export async function meteredTracking(
  env: Bindings,
  scenarioId: number,
  o: { opens: number; clicks: number; offset: number },
) {
  const { results } = await env.DB.prepare(
    `SELECT id, record_activity_id, activity_id, sent_at FROM email_archive
     WHERE scenario_id = ?1 AND status = 'sent' ORDER BY id LIMIT ?2 OFFSET ?3`,
  )
    .bind(scenarioId, o.opens, o.offset)
    .all<{ id: number; record_activity_id: number; activity_id: number; sent_at: number }>();
  const { db, totals } = meteredD1(env.DB);
  const metered = { ...env, DB: db } as Bindings;
  const hit = async (kind: "open" | "click", e: (typeof results)[number]) => {
    const pending: Promise<unknown>[] = [];
    const facts: RequestFacts = {
      method: "GET",
      userAgent: BROWSER,
      referrer: null,
      asn: null,
      asOrganization: null,
      country: null,
      now: e.sent_at + 3_600_000,
    };
    const target = {
      kind,
      linkKey: null,
      emailId: e.id,
      recordActivityId: e.record_activity_id,
      scenarioId,
      activityId: e.activity_id,
      sentAt: e.sent_at,
    };
    recordHit(metered, target, facts, (p) => pending.push(p));
    // The flush and what it starts (the event, its wake-ups) before the next hit: each is its own write.
    while (pending.length > 0) await Promise.allSettled(pending.splice(0));
  };
  const measure = async (kind: "open" | "click", emails: typeof results) => {
    const before = totals.rowsWritten;
    for (const e of emails) await hit(kind, e);
    return emails.length === 0 ? 0 : (totals.rowsWritten - before) / emails.length;
  };
  totals.writtenBy = {};
  const open = await measure("open", results);
  const openBy = totals.writtenBy;
  totals.writtenBy = {};
  const click = await measure("click", results.slice(0, o.clicks));
  return {
    opens: results.length,
    clicks: Math.min(o.clicks, results.length),
    open,
    click,
    open_by: openBy,
    click_by: totals.writtenBy,
  };
}
