import { EMAIL_SEQUENCE_BASE } from "../../email/archive-ids";
import { withDerivedColumnsRaw } from "../../email/columns";
import { emailOfRecordActivity } from "../../email/of-record-activity";
import { RECORD_ACTIVITY_EMAIL_COLUMNS } from "../../email/staged";
import { getConfig } from "../../env";
import { trackingSecretOf } from "../../signing/keys";
import type { Engine } from "../ports";

/**
 * Retention: what is older than the window (`RETENTION_DAYS`) leaves D1 for R2, exported beside the bodies as NDJSON
 * (`emails/retained/YYYY-MM-DD/…ndjson`, one line `{table, row}` per row, the row as D1 held it, an e-mail's derived
 * Message-ID and body key filled in: src/email/columns.ts), then deleted.
 *
 * - **E-mails** (by `created_at`), with their tracking hits, any legacy `links` rows and those of their record
 *   activities that may go too: one step of at most RETENTION_STEP e-mails of one day, oldest first.
 * - **Finished record activities** (before the window, by `at`: done ones that sent no e-mail, cancelled and failed
 *   ones) with no e-mail still in D1, with their hits left: one step of at most RECORD_ACTIVITY_STEP, one object per
 *   day of `at`. A done one that sent an e-mail (`emailed`) leaves with its e-mail.
 *
 * What stays: every waiting or running record activity; a finished one whose e-mail is still in D1 (an open, click or
 * bounce of that e-mail updates it and makes its waiting children due, or cancels its `email_not_X` ones; it leaves
 * with its e-mail); a confirmation e-mail's record activity while a `subscription_confirmed` / `_not_confirmed` child
 * still waits (the confirmation page reads it; it then stays in D1, like its scenario record). Scenario records stay
 * (unsubscribe tokens, the enter-once rule), and so do the counts kept on scenario and activity rows and the report
 * counts by day (`activity_days`): they are written as the work happens, and a DELETE changes none of them.
 *
 * The minute sweep runs steps (e-mails first, then record activities) until nothing is old enough or its time budget
 * is spent (`retentionSweep`). Record-activity steps read from a floor up (`retentionFloor`), so the rows held below
 * it are not read again at every sweep. Each step writes its export before it deletes anything; a step that failed after the
 * export writes its rows again (a row may then be in two objects: `table` and the row's `id` name it). The bodies stay
 * where they are (the bucket's lifecycle rule expires them).
 */

export const DAY_MS = 86_400_000;
/** E-mails one step exports and deletes at most: one object, one read batch, one delete batch. */
export const RETENTION_STEP = 500;
/**
 * Record activities a record-activity step exports and deletes at most. The ids go to D1 as one JSON parameter
 * (`json_each`), so a statement stays far inside D1's 100 bound parameters and 100 KB, whatever the step size.
 */
export const RECORD_ACTIVITY_STEP = 1_000;
/** How long one sweep runs retention steps at most (the cron's limit is far above; a step takes well under a second). */
export const RETENTION_BUDGET_MS = 20_000;
/** Steps one sweep runs at most, whatever the budget: 100 × 500 e-mails is 50,000 a minute, 72 M a day. */
export const RETENTION_MAX_STEPS = 100;
export const RETAINED_PREFIX = "emails/retained/";

export const retainedDayPrefix = (day: string) => `${RETAINED_PREFIX}${day}/`;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export type RetainedTable = "emails" | "hits" | "links" | "record_activities";

/** One line of an export: the table the row came from and the row as D1 held it (column names, raw values). */
export interface RetainedLine {
  table: RetainedTable;
  row: Record<string, unknown>;
}

export interface RetentionStep {
  /** The day (UTC) of the e-mails exported; null when nothing is older than the window. */
  day: string | null;
  key: string | null;
  emails: number;
  hits: number;
  links: number;
  record_activities: number;
}

interface EmailRowRaw extends Record<string, unknown> {
  id: number;
  record_activity_id: number;
  created_at: number;
}

interface RecordActivityRowRaw extends Record<string, unknown> {
  id: number;
  at: number;
}

/** The e-mails `m` of the record activity `ra`. */
const OF_RA = emailOfRecordActivity("m", (c) => `${c} = ra.id`);

const FINISHED = "('done', 'cancelled', 'failed')";

/**
 * SQL: the record activity `ra`, finished before `cutoff`, may leave D1 — no e-mail of it stays in D1 (beyond those
 * in the JSON array `leaving`, which leave in the same batch), and it is not a confirmation e-mail whose
 * confirmed / not-confirmed child still waits.
 */
const REMOVABLE = (cutoff: string, leaving: string) => `ra.state IN ${FINISHED} AND ra.at < ${cutoff}
  AND NOT EXISTS (SELECT 1 FROM email_archive m WHERE ${OF_RA}
                  AND m.id NOT IN (SELECT value FROM json_each(${leaving})))
  AND NOT EXISTS (SELECT 1 FROM activities c
                  JOIN record_activities w ON w.scenario_record_id = ra.scenario_record_id AND w.activity_id = c.id
                  WHERE c.parent_id = ra.activity_id
                    AND c."on" IN ('subscription_confirmed', 'subscription_not_confirmed')
                    AND w.state IN ('waiting', 'running'))`;

/**
 * Before hits leave, the machine ones among `hitIds` are added to `activity_days` by activity and day (same batch as
 * the deletes): reports read machine hits from `hits` and add those rows, so a period keeps its counts. Done record
 * activities, opens and clicks are there already (counted when they happened), so nothing of them is added here.
 */
function foldMachineHits(d1: D1Database, hitIds: number[]): D1PreparedStatement {
  const day = (column: string) => `strftime('%Y-%m-%d', ${column} / 1000, 'unixepoch')`;
  return d1
    .prepare(
      `INSERT INTO activity_days (activity_id, day, machine_opens, machine_clicks)
       SELECT activity_id, ${day("at")}, coalesce(sum(kind = 'open'), 0), coalesce(sum(kind = 'click'), 0)
       FROM hits
       WHERE id IN (SELECT value FROM json_each(?1)) AND human = 0 AND kind IN ('open', 'click')
         AND activity_id IS NOT NULL
       GROUP BY 1, 2
       ON CONFLICT (activity_id, day) DO UPDATE SET machine_opens = machine_opens + excluded.machine_opens,
         machine_clicks = machine_clicks + excluded.machine_clicks`,
    )
    .bind(JSON.stringify(hitIds));
}

const ndjson = (lines: RetainedLine[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join("");

async function putExport(e: Engine, key: string, lines: RetainedLine[]) {
  const count = (table: RetainedTable) => String(lines.filter((l) => l.table === table).length);
  await e.env.EMAIL_BODIES.put(key, ndjson(lines), {
    httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" },
    customMetadata: {
      emails: count("emails"),
      hits: count("hits"),
      links: count("links"),
      record_activities: count("record_activities"),
    },
  });
}

const lineOf =
  (table: RetainedTable) =>
  (row: Record<string, unknown>): RetainedLine => ({ table, row });

/**
 * One e-mail step: the e-mails of lowest ids created before `now - days` (in either id range), all of the same day, at
 * most `limit`, exported with their hits, links and the record activities that may leave with them to one R2
 * object, then removed from D1 in one batch.
 */
export async function retainStep(e: Engine, now: number, days: number, limit = RETENTION_STEP): Promise<RetentionStep> {
  const cutoff = now - days * DAY_MS;
  const none = { day: null, key: null, emails: 0, hits: 0, links: 0, record_activities: 0 };
  // Two id ranges, each read from its lowest id (src/email/archive.ts): first attempts, with their record activity's
  // id (created in that order, sent after their delay, so a fresh one may sit before older ones: it is passed over),
  // and the later attempts' ids from the sequence (2^52 up, in the order sent).
  const ranges = await e.d1.batch<EmailRowRaw>([
    e.d1.prepare("SELECT * FROM email_archive WHERE id < ?2 ORDER BY id LIMIT ?1").bind(limit, EMAIL_SEQUENCE_BASE),
    e.d1.prepare("SELECT * FROM email_archive WHERE id >= ?2 ORDER BY id LIMIT ?1").bind(limit, EMAIL_SEQUENCE_BASE),
  ]);
  const candidates = ranges.map((r) => oneOldDay(r.results ?? [], cutoff, limit));
  const [rows, day] = candidates.reduce((a, b) => (b[1] !== null && (a[1] === null || b[1] < a[1]) ? b : a));
  if (day === null) return none;
  const ids = JSON.stringify(rows.map((r) => r.id));
  const ras = JSON.stringify([...new Set(rows.map((r) => r.record_activity_id))]);
  const [hits, links, leaving] = await e.d1.batch<Record<string, unknown>>([
    // Through the (record activity, at) index: the hits of these e-mails' record activities, then of these e-mails.
    e.d1
      .prepare(
        `SELECT * FROM hits WHERE record_activity_id IN (SELECT value FROM json_each(?1))
           AND email_id IN (SELECT value FROM json_each(?2)) ORDER BY id`,
      )
      .bind(ras, ids),
    e.d1.prepare("SELECT * FROM links WHERE email_id IN (SELECT value FROM json_each(?1)) ORDER BY key").bind(ids),
    e.d1
      .prepare(
        `SELECT ra.* FROM record_activities ra
         WHERE ra.id IN (SELECT value FROM json_each(?1)) AND ${REMOVABLE("?3", "?2")} ORDER BY ra.id`,
      )
      .bind(ras, ids, cutoff),
  ]);
  const hitRows = hits?.results ?? [];
  const linkRows = links?.results ?? [];
  const raRows = leaving?.results ?? [];
  const key = `${retainedDayPrefix(day)}${rows[0]?.id}-${rows[rows.length - 1]?.id}.ndjson`;
  // E-mails are exported with their derived Message-ID and body key filled in: the export reads on its own.
  const secret = trackingSecretOf(e.env);
  const exported = await Promise.all(rows.map((r) => withDerivedColumnsRaw(secret, r)));
  await putExport(e, key, [
    ...exported.map(lineOf("emails")),
    ...hitRows.map(lineOf("hits")),
    ...linkRows.map(lineOf("links")),
    ...raRows.map(lineOf("record_activities")),
  ]);
  await e.d1.batch([
    foldMachineHits(
      e.d1,
      hitRows.map((h) => h.id as number),
    ),
    e.d1
      .prepare("DELETE FROM hits WHERE id IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(hitRows.map((h) => h.id))),
    e.d1.prepare("DELETE FROM links WHERE email_id IN (SELECT value FROM json_each(?1))").bind(ids),
    e.d1.prepare("DELETE FROM emails WHERE id IN (SELECT value FROM json_each(?1))").bind(ids),
    e.d1
      .prepare(`DELETE FROM record_activities WHERE id IN (SELECT value FROM json_each(?1)) AND state IN ${FINISHED}`)
      .bind(JSON.stringify(raRows.map((r) => r.id))),
    // A first attempt archived on a record activity that stays (a confirmation's, while its child waits): the e-mail
    // leaves, the row keeps the rest.
    e.d1
      .prepare(
        `UPDATE record_activities SET ${RECORD_ACTIVITY_EMAIL_COLUMNS.map((c) => `${c} = NULL`).join(", ")}
         WHERE id IN (SELECT value FROM json_each(?1)) AND email_status IS NOT NULL`,
      )
      .bind(ids),
  ]);
  return {
    day,
    key,
    emails: rows.length,
    hits: hitRows.length,
    links: linkRows.length,
    record_activities: raRows.length,
  };
}

/**
 * The rows created before `cutoff` on the day of the first such row (in id order), until one of another day: fresh
 * rows are passed over. At most `limit`; the day is null when none is old enough.
 */
function oneOldDay(rows: EmailRowRaw[], cutoff: number, limit: number): [EmailRowRaw[], string | null] {
  const taken: EmailRowRaw[] = [];
  let day: string | null = null;
  for (const row of rows) {
    if (row.created_at >= cutoff) continue;
    const rowDay = dayOf(row.created_at);
    if (day !== null && rowDay !== day) break;
    day = rowDay;
    taken.push(row);
    if (taken.length >= limit) break;
  }
  return [taken, day];
}

export interface RecordActivityStep {
  /** The objects written, one per day (UTC) of the record activities' `at`; empty when none was old enough. */
  keys: string[];
  record_activities: number;
  hits: number;
}

/**
 * Finished record activities in `[floor, cutoff)` that the e-mail steps do not take, one condition per partial index
 * that holds them: done ones that sent no e-mail through `record_activities_done_unemailed (at)` (one that sent an
 * e-mail leaves with it), cancelled and failed ones through `record_activities_ended (at)`. Each reads the range in
 * `at` order, without a full scan.
 */
const FINISHED_IN_RANGE = (floor: string, cutoff: string) => [
  `ra.state = 'done' AND ra.emailed = 0 AND ra.at >= ${floor} AND ra.at < ${cutoff}`,
  `ra.state IN ('cancelled', 'failed') AND ra.at >= ${floor} AND ra.at < ${cutoff}`,
];

/**
 * The floor of the record-activity steps (a `settings` row): every finished record activity with `at` below it has
 * been removed or held for good, so a step reads only from there. A record activity finishes with `at` = now, a day
 * or more after any cutoff, so no row appears below the floor later. 0 until the first sweep has caught up.
 */
export const RETENTION_FLOOR_KEY = "retention_floor";

export async function retentionFloor(e: Engine): Promise<number> {
  const row = await e.d1
    .prepare("SELECT value FROM settings WHERE key = ?")
    .bind(RETENTION_FLOOR_KEY)
    .first<{ value: string }>();
  return row ? Number(JSON.parse(row.value)) : 0;
}

/**
 * Once no record activity of `[floor, cutoff)` may leave: the floor moves up to the oldest one still held by an
 * e-mail in D1 (it leaves with its e-mail, so it must be read again), or to the cutoff. Confirmation e-mails held for
 * a pending double opt-in fall below it and stay in D1, like their scenario records.
 */
async function raiseFloor(e: Engine, floor: number, cutoff: number): Promise<number> {
  const held = await e.d1
    .prepare(
      `SELECT min(at) AS at FROM (${FINISHED_IN_RANGE("?1", "?2")
        .map(
          (range) => `SELECT min(ra.at) AS at FROM record_activities ra
                      WHERE ${range} AND EXISTS (SELECT 1 FROM email_archive m WHERE ${OF_RA})`,
        )
        .join(" UNION ALL ")})`,
    )
    .bind(floor, cutoff)
    .first<{ at: number | null }>();
  const next = held?.at ?? cutoff;
  if (next > floor) {
    await e.d1
      .prepare(
        `INSERT INTO settings (key, value, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .bind(RETENTION_FLOOR_KEY, JSON.stringify(next), Date.now())
      .run();
  }
  return Math.max(next, floor);
}

/**
 * One record-activity step: at most `limit` finished record activities that may leave D1 (see REMOVABLE), finished
 * in `[floor, now - days)`, exported with the hits still in D1 that name them, one object per day of `at`
 * (`emails/retained/YYYY-MM-DD/record-activities-<first id>-<last id>.ndjson`), then removed from D1 in one batch.
 */
export async function retainRecordActivitiesStep(
  e: Engine,
  now: number,
  days: number,
  limit = RECORD_ACTIVITY_STEP,
  floor = 0,
): Promise<RecordActivityStep> {
  const cutoff = now - days * DAY_MS;
  const { results: rows } = await e.d1
    .prepare(
      FINISHED_IN_RANGE("?3", "?1")
        .map(
          (range) => `SELECT * FROM (SELECT ra.* FROM record_activities ra
                      WHERE ${range} AND ${REMOVABLE("?1", "'[]'")} LIMIT ?2)`,
        )
        .join(" UNION ALL "),
    )
    .bind(cutoff, limit, floor)
    .all<RecordActivityRowRaw>();
  if (rows.length === 0) return { keys: [], record_activities: 0, hits: 0 };
  rows.sort((a, b) => a.id - b.id);
  rows.splice(limit);
  const ids = JSON.stringify(rows.map((r) => r.id));
  const { results: hitRows } = await e.d1
    .prepare("SELECT * FROM hits WHERE record_activity_id IN (SELECT value FROM json_each(?1)) ORDER BY id")
    .bind(ids)
    .all<{ id: number; record_activity_id: number }>();
  const byDay = new Map<string, RecordActivityRowRaw[]>();
  for (const row of rows) {
    const day = dayOf(row.at);
    byDay.set(day, [...(byDay.get(day) ?? []), row]);
  }
  const keys: string[] = [];
  for (const [day, dayRows] of [...byDay].sort()) {
    const mine = new Set(dayRows.map((r) => r.id));
    const key = `${retainedDayPrefix(day)}record-activities-${dayRows[0]?.id}-${dayRows[dayRows.length - 1]?.id}.ndjson`;
    await putExport(e, key, [
      ...dayRows.map(lineOf("record_activities")),
      ...hitRows.filter((h) => mine.has(h.record_activity_id)).map(lineOf("hits")),
    ]);
    keys.push(key);
  }
  await e.d1.batch([
    foldMachineHits(
      e.d1,
      hitRows.map((h) => h.id),
    ),
    e.d1
      .prepare("DELETE FROM hits WHERE id IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(hitRows.map((h) => h.id))),
    e.d1
      .prepare(`DELETE FROM record_activities WHERE id IN (SELECT value FROM json_each(?1)) AND state IN ${FINISHED}`)
      .bind(ids),
  ]);
  return { keys, record_activities: rows.length, hits: hitRows.length };
}

export interface RetentionSweep {
  steps: number;
  emails: number;
  hits: number;
  links: number;
  record_activities: number;
  /** Objects written. */
  objects: number;
  /** False when the sweep stopped on its budget or step count with more left to do. */
  done: boolean;
}

/**
 * What one minute sweep does: e-mail steps until no e-mail is older than the window, then record-activity steps until
 * no finished record activity that may leave is, within `budgetMs` and `maxSteps`. Each step is bounded on its own,
 * so a backlog larger than one step drains in one sweep at about a step per second, and a larger one over the next.
 */
export async function retentionSweep(
  e: Engine,
  now: number,
  days: number,
  options: { budgetMs?: number; maxSteps?: number; emailStep?: number; recordActivityStep?: number } = {},
): Promise<RetentionSweep> {
  const { budgetMs = RETENTION_BUDGET_MS, maxSteps = RETENTION_MAX_STEPS } = options;
  const started = Date.now();
  const total: RetentionSweep = {
    steps: 0,
    emails: 0,
    hits: 0,
    links: 0,
    record_activities: 0,
    objects: 0,
    done: false,
  };
  const more = () => total.steps < maxSteps && Date.now() - started < budgetMs;
  const limit = options.recordActivityStep ?? RECORD_ACTIVITY_STEP;
  let emailsLeft = true;
  let floor: number | null = null;
  while (more()) {
    if (emailsLeft) {
      const step = await retainStep(e, now, days, options.emailStep);
      if (step.key === null) {
        emailsLeft = false;
        continue;
      }
      total.steps++;
      total.objects++;
      total.emails += step.emails;
      total.hits += step.hits;
      total.links += step.links;
      total.record_activities += step.record_activities;
    } else {
      floor ??= await retentionFloor(e);
      const step = await retainRecordActivitiesStep(e, now, days, limit, floor);
      if (step.record_activities > 0) {
        total.steps++;
        total.objects += step.keys.length;
        total.hits += step.hits;
        total.record_activities += step.record_activities;
      }
      if (step.record_activities < limit) {
        await raiseFloor(e, floor, now - days * DAY_MS);
        total.done = true;
        break;
      }
    }
  }
  return total;
}

/**
 * What a read answers about data older than the window (reports, record activities, e-mails): since when it is no
 * longer in D1 and where it is. Null when retention is off (everything stays in D1).
 */
export interface RetentionNote {
  window_days: number;
  retained_before: string;
  location: string;
  listing: string;
  note: string;
}

export const RETAINED_LOCATION = `R2 bucket EMAIL_BODIES, ${RETAINED_PREFIX}YYYY-MM-DD/`;

export function retentionNote(days: number | null, now = Date.now()): RetentionNote | null {
  if (days === null) return null;
  const before = new Date(now - days * DAY_MS).toISOString();
  return {
    window_days: days,
    retained_before: before,
    location: RETAINED_LOCATION,
    listing: "GET /api/retention/{day}",
    note:
      `Finished record activities, e-mails and tracking hits from before ${before} are no longer in the database: ` +
      `they were exported to R2 (${RETAINED_LOCATION}) and are listed by day by GET /api/retention/{day}. ` +
      "Counts kept on scenarios and activities, and reports, still include them.",
  };
}

/** The retention note for this deployment's RETENTION_DAYS; undefined (no field in a response) when it is off. */
export const retentionNoteOf = (e: Engine, now = Date.now()) =>
  retentionNote(getConfig(e.env).retentionDays, now) ?? undefined;

export interface RetainedObject {
  key: string;
  size: number;
  emails: number;
  hits: number;
  links: number;
  record_activities: number;
}

/** Where a day's export lives: its objects in the EMAIL_BODIES bucket, with what each holds. */
export async function retainedDay(e: Engine, day: string): Promise<RetainedObject[]> {
  const objects: RetainedObject[] = [];
  let cursor: string | undefined;
  do {
    const page = await e.env.EMAIL_BODIES.list({ prefix: retainedDayPrefix(day), cursor, include: ["customMetadata"] });
    for (const o of page.objects) {
      const m = o.customMetadata ?? {};
      objects.push({
        key: o.key,
        size: o.size,
        emails: Number(m.emails ?? 0),
        hits: Number(m.hits ?? 0),
        links: Number(m.links ?? 0),
        record_activities: Number(m.record_activities ?? 0),
      });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return objects;
}

/** The rows of one export object, as they were in D1; null when there is no such object. */
export async function readRetained(e: Engine, key: string): Promise<RetainedLine[] | null> {
  if (!key.startsWith(RETAINED_PREFIX)) return null;
  const object = await e.env.EMAIL_BODIES.get(key);
  if (!object) return null;
  return (await object.text())
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RetainedLine);
}
