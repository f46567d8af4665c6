import type { EmailStatus } from "../db/schema/emails";
import type { ComposedEmail } from "./compose";
import type { AttemptOutcome, EmailJob } from "./job";
import { packLinkUrls } from "./link-urls";
import { emailOfRecordActivity, inJsonIds } from "./of-record-activity";
import { ABANDONED_RETRIED, EMAIL_COLUMNS, emailValues } from "./staged";

/**
 * The write side of the e-mail archive. Rows travel as one JSON parameter a statement (D1 binds at most 100), so a
 * whole batch is staged in its claim in one D1 round trip before delivery and archived in another after, whatever its
 * size: each `emails` row is written once, with its outcome (the lifecycle is in docs/email.md). What the claim, the
 * commit and the sweep embed of it (archiving staged rows) is in `staged.ts`.
 */

/** What one statement carries at most: D1 caps a bound string at 2 MB. */
const MAX_PARAM_BYTES = 512 * 1024;

export interface Attempt {
  /** The id chosen for its archive row (`chooseEmailIds`), which its tracking keys name. */
  id: number;
  job: EmailJob;
  email: ComposedEmail;
  /** Where the body sits in the batch's R2 object. */
  body: { offset: number; length: number };
}

/**
 * One attempt's archive row as it travels in JSON: staged in its claim before delivery, then inserted with its
 * outcome. Short names keep the staged JSON small; the statements below read them with `json_extract`.
 */
export interface ArchiveRow {
  id: number;
  ra: number;
  scenario: number;
  activity: number;
  sr: number;
  to: string;
  from: string;
  subject: string;
  mid: string;
  attempt: number;
  off: number;
  len: number;
  urls: string | null;
  transport: string;
  /** The batch's nonce (`body_key`): its R2 object is `batchKey(at, key)`. */
  key: string;
  /** When the attempt was archived (`created_at`). */
  at: number;
  /**
   * Its outcome, once the transport answered (`recordDeliveries` adds it to the staged copy): the status, error, sent
   * and answer times, provider id. Absent while delivering; whoever archives a staged row without it did not hear.
   */
  st?: Exclude<EmailStatus, "sending">;
  err?: string | null;
  sent?: number | null;
  pid?: string | null;
  ans?: number | null;
}

/** The attempts' archive rows, with their links' URLs (no `links` row is written: the keys are signed). */
export async function archiveRows(
  attempts: Attempt[],
  transport: string,
  now: number,
  nonce: string,
): Promise<ArchiveRow[]> {
  return Promise.all(
    attempts.map(async ({ id, job, email, body }) => ({
      id,
      ra: job.recordActivityId,
      scenario: job.scenario.id,
      activity: job.activity.id,
      sr: job.scenarioRecord.id,
      to: email.headers.To as string,
      from: email.headers.From as string,
      subject: email.subject,
      // The Message-ID is derived from the id (src/email/columns.ts): none is stored.
      mid: "",
      attempt: job.attempt,
      off: body.offset,
      len: body.length,
      urls: await packLinkUrls(email.links.filter((l) => l.kind !== "open").map((l) => l.url as string)),
      transport,
      key: nonce,
      at: now,
    })),
  );
}

/** What one claims row may hold staged: D1 caps a row at 2 MB. A larger batch is archived `sending` instead. */
const MAX_STAGED_BYTES = 1024 * 1024;

/**
 * Before anything is delivered, the batch's rows are staged in the claim that holds their record activities: one
 * write per claims row (a claim has one a shard), not one per e-mail. So a click on a link that was sent finds its
 * e-mail (`stagedEmailRow`), and a Worker that dies mid-way leaves a trace that the takeover or the sweep archives
 * `abandoned`. Rows sent outside a claim, or a batch too large to stage, are inserted `sending` instead, as before.
 * Returns the record activities the claim no longer holds (taken over while this Worker was slow): they must not be
 * delivered, since their new claim sends them, under the same e-mail id. One D1 batch.
 */
export async function archiveBeforeDelivery(
  d1: D1Database,
  rows: ArchiveRow[],
  claimKey?: string,
): Promise<{ notHeld: Set<number>; staged: boolean }> {
  const statements = [abandonSending(d1, rows)];
  const canStage = claimKey !== undefined && JSON.stringify(rows).length <= MAX_STAGED_BYTES;
  for (const chunk of chunkBySize(rows)) {
    statements.push(canStage ? stageInClaim(d1, claimKey as string, chunk) : insertSending(d1, chunk));
  }
  const results = await d1.batch<{ ids: string }>(statements);
  if (!canStage) return { notHeld: new Set(), staged: false };
  const held = new Set<number>();
  for (const r of results.slice(1)) {
    for (const row of r.results ?? []) for (const id of JSON.parse(row.ids) as number[]) held.add(id);
  }
  return { notHeld: new Set(rows.filter((r) => !held.has(r.ra)).map((r) => r.ra)), staged: true };
}

/** The outcome of an attempt whose claim was taken over before its delivery: not delivered, its new claim sends it. */
export const TAKEN_OVER_BEFORE_DELIVERY =
  "not delivered: its claim was taken over before the delivery (another Worker sends it)";

/**
 * A row this record activity left `sending` belongs to a claim whose Worker died before the transport answered (rows
 * archived before staging existed): this claim now holds the record activity, so that attempt will never be recorded.
 */
function abandonSending(d1: D1Database, rows: ArchiveRow[]) {
  return d1
    .prepare(
      `UPDATE emails SET status = 'abandoned', error = ?2
       WHERE status = 'sending' AND ${emailOfRecordActivity("emails", inJsonIds("?1"))}`,
    )
    .bind(JSON.stringify(rows.map((r) => r.ra)), ABANDONED_RETRIED);
}

/**
 * Appends to each claims row of the claim the rows of the record activities it holds (`staged`, a JSON array); each
 * claims row written returns its ids (the record activities it holds). The rows come as one JSON object by record
 * activity id, looked up for each id held: staging reads each id once, not every row for each id.
 */
function stageInClaim(d1: D1Database, claimKey: string, rows: ArchiveRow[]) {
  const byRa = Object.fromEntries(rows.map((r) => [String(r.ra), r]));
  const row = `json_extract(?2, '$."' || i.value || '"')`;
  return d1
    .prepare(
      `UPDATE claims SET staged = CASE WHEN claims.staged IS NULL THEN n.rows ELSE (
           SELECT json_group_array(json(value)) FROM (
             SELECT value FROM json_each(claims.staged) UNION ALL SELECT value FROM json_each(n.rows))) END
       FROM (SELECT c.shard, json_group_array(json(${row})) AS rows
             FROM claims c, json_each(c.ids) i
             WHERE c.key = ?1 AND ${row} IS NOT NULL GROUP BY c.shard) AS n
       WHERE claims.key = ?1 AND claims.shard = n.shard
       RETURNING claims.ids`,
    )
    .bind(claimKey, JSON.stringify(byRa));
}

/** Rows that could not be staged, inserted `sending` before delivery as they were before staging existed. */
function insertSending(d1: D1Database, rows: ArchiveRow[]) {
  const values = emailValues({
    status: "'sending'",
    error: "NULL",
    sentAt: "NULL",
    providerId: "NULL",
    answeredAt: "NULL",
  });
  return d1
    .prepare(`INSERT INTO emails (${EMAIL_COLUMNS}) SELECT ${values} FROM json_each(?1)`)
    .bind(JSON.stringify(rows));
}

export interface Delivery {
  id: number;
  status: Exclude<EmailStatus, "sending">;
  error: string | null;
  sentAt: number | null;
  /** The provider's id of the accepted message, which its delivery events name. */
  providerId: string | null;
  /** When the transport answered; null when it was not called. */
  answeredAt: number | null;
}

/** SQL: the outcomes bound as `?1` (a JSON array of `{id, st, err, sent, pid, ans}`), one row each. */
const OUTCOMES = `SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.st') AS st,
  json_extract(value, '$.err') AS err, json_extract(value, '$.sent') AS sent, json_extract(value, '$.pid') AS pid,
  json_extract(value, '$.ans') AS ans FROM json_each(?1)`;

/**
 * Records how each attempt went, in one D1 batch. Staged rows (`stagedIn`, the claim's key) take their outcome in the
 * staged copy: one write a claims row, and the commit that settles their record activities archives them with it
 * (a first attempt on its record activity's row, in the same write). Rows archived already take it where they are:
 * inserted `sending` (not staged), or archived `abandoned` by a takeover while this Worker was slow.
 */
export async function recordDeliveries(
  d1: D1Database,
  rows: ArchiveRow[],
  deliveries: Delivery[],
  stagedIn?: string,
): Promise<void> {
  const byId = new Map(deliveries.map((d) => [d.id, d]));
  const outcomes = rows.flatMap((row) => {
    const d = byId.get(row.id);
    return d ? [{ id: row.id, st: d.status, err: d.error, sent: d.sentAt, pid: d.providerId, ans: d.answeredAt }] : [];
  });
  if (outcomes.length === 0) return;
  await d1.batch(outcomeStatements(d1, outcomes, stagedIn));
}

/**
 * The statements that record attempts' outcomes: in the staged copy of claim `stagedIn` (when given), and on the
 * archive rows already written (`sending`, or `abandoned` by a takeover). Recovery runs them with the outcomes a dead
 * Worker's journal kept.
 */
export function outcomeStatements(
  d1: D1Database,
  outcomes: AttemptOutcome[],
  stagedIn?: string,
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (const chunk of chunkBySize(outcomes)) {
    const json = JSON.stringify(chunk);
    if (stagedIn !== undefined) statements.push(recordInStaged(d1, stagedIn, chunk));
    statements.push(
      d1
        .prepare(
          `UPDATE emails SET status = o.st, error = o.err, sent_at = o.sent, provider_message_id = o.pid,
             answered_at = NULLIF(o.ans, o.sent)
           FROM (${OUTCOMES}) AS o
           WHERE emails.id = o.id AND emails.id IN (SELECT o.id FROM (${OUTCOMES}) AS o)
             AND emails.status IN ('sending', 'abandoned')`,
        )
        .bind(json),
      d1
        .prepare(
          `UPDATE record_activities SET email_status = o.st, email_error = o.err, email_sent_at = o.sent,
             email_provider_id = o.pid, email_answered_at = NULLIF(o.ans, o.sent)
           FROM (${OUTCOMES}) AS o
           WHERE record_activities.id = o.id AND record_activities.id IN (SELECT o.id FROM (${OUTCOMES}) AS o)
             AND record_activities.email_status = 'abandoned'`,
        )
        .bind(json),
    );
  }
  return statements;
}

/** Adds each outcome to its staged row in the claim's rows (by e-mail id, looked up in one JSON object). */
function recordInStaged(d1: D1Database, claimKey: string, outcomes: { id: number }[]) {
  const byId = Object.fromEntries(outcomes.map(({ id, ...o }) => [String(id), o]));
  const outcome = `json_extract(?2, '$."' || json_extract(s.value, '$.id') || '"')`;
  return d1
    .prepare(
      `UPDATE claims SET staged = (
         SELECT json_group_array(CASE WHEN ${outcome} IS NULL THEN json(s.value) ELSE json_patch(s.value, ${outcome}) END)
         FROM json_each(claims.staged) s)
       WHERE key = ?1 AND staged IS NOT NULL`,
    )
    .bind(claimKey, JSON.stringify(byId));
}

/** Splits rows so that each chunk's JSON stays under MAX_PARAM_BYTES (a single larger row gets a chunk of its own). */
function chunkBySize<T>(rows: T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const row of rows) {
    const rowSize = JSON.stringify(row).length + 1;
    if (current.length > 0 && size + rowSize > MAX_PARAM_BYTES) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(row);
    size += rowSize;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
