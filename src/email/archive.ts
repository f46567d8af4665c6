import type { EmailStatus } from "../db/schema/emails";
import type { EmailJob } from "../engine/mailer";
import type { ComposedEmail } from "./compose";

/**
 * The write side of the e-mail archive. Rows travel as one JSON parameter a statement (D1 binds at most 100), so a
 * whole batch is archived in one D1 round trip and finished in another, whatever its size.
 */

/** What one statement carries at most: D1 caps a bound string at 2 MB. */
const MAX_PARAM_BYTES = 512 * 1024;

export interface Attempt {
  job: EmailJob;
  email: ComposedEmail;
  /** Where the body sits in the batch's R2 object. */
  body: { offset: number; length: number };
}

export interface BodyObject {
  html: string;
  text: string;
  raw: string;
}

/** The R2 object of one delivery batch's bodies. */
export const batchKey = (now: number, nonce: string) =>
  `emails/batches/${new Date(now).toISOString().slice(0, 10)}/${now}-${nonce}.ndjson`;

/**
 * The bodies of a batch as one newline-delimited JSON object, and where each body sits in it: one R2 write for the
 * whole batch instead of one per e-mail (R2 bills every write), read back with a ranged GET.
 */
export function packBodies(bodies: BodyObject[]): { bytes: Uint8Array; ranges: { offset: number; length: number }[] } {
  const encoder = new TextEncoder();
  const parts = bodies.map((b) => encoder.encode(`${JSON.stringify(b)}\n`));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const ranges: { offset: number; length: number }[] = [];
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    ranges.push({ offset, length: part.length - 1 });
    offset += part.length;
  }
  return { bytes, ranges };
}

/**
 * Inserts one `emails` row (status `sending`, with where its body will be) per attempt and its `links` rows, in one D1
 * batch (a transaction), before anything is delivered: a click on a link that was sent always finds its key.
 * Returns the e-mail ids, in order.
 */
export async function archiveAttempts(
  d1: D1Database,
  attempts: Attempt[],
  transport: string,
  now: number,
  objectKey: string,
): Promise<number[]> {
  const emailRows = attempts.map(({ job, email, body }) => ({
    ra: job.recordActivityId,
    scenario: job.scenario.id,
    activity: job.activity.id,
    sr: job.scenarioRecord.id,
    to: email.headers.To,
    from: email.headers.From,
    subject: email.subject,
    mid: email.messageId,
    headers: email.headers,
    attempt: job.attempt,
    off: body.offset,
    len: body.length,
  }));
  const linkRows = attempts.flatMap(({ job, email }) =>
    email.links.map((l) => ({ key: l.key, kind: l.kind, url: l.url, ra: job.recordActivityId, mid: email.messageId })),
  );
  const emailChunks = chunkBySize(emailRows);
  // A row this record activity left `sending` belongs to a claim whose Worker died before the transport answered:
  // this claim now holds the record activity, so that attempt will never be recorded. It is not known to be delivered.
  const statements: D1PreparedStatement[] = [
    d1
      .prepare(
        `UPDATE emails SET status = 'abandoned', error = ?2
         WHERE status = 'sending' AND record_activity_id IN (SELECT value FROM json_each(?1))`,
      )
      .bind(JSON.stringify(attempts.map((a) => a.job.recordActivityId)), ABANDONED_RETRIED),
  ];
  for (const chunk of emailChunks) statements.push(insertEmails(d1, chunk, transport, now, objectKey));
  for (const chunk of chunkBySize(linkRows)) statements.push(insertLinks(d1, chunk, now));

  const results = await d1.batch<{ id: number; message_id: string }>(statements);
  const idOf = new Map<string, number>();
  for (const r of results.slice(1, 1 + emailChunks.length)) {
    for (const row of r.results) idOf.set(row.message_id, row.id);
  }
  return attempts.map(({ email }) => {
    const id = idOf.get(email.messageId);
    if (id === undefined) throw new Error(`the archive row of ${email.messageId} was not created`);
    return id;
  });
}

function insertEmails(d1: D1Database, rows: unknown[], transport: string, now: number, objectKey: string) {
  const v = (path: string) => `json_extract(value, '$.${path}')`;
  return d1
    .prepare(
      `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
         message_id, headers, transport, status, error, body_key, body_offset, body_length, attempt, sent_at, created_at)
       SELECT ${v("ra")}, ${v("scenario")}, ${v("activity")}, ${v("sr")}, ${v("to")}, ${v("from")}, ${v("subject")},
         ${v("mid")}, ${v("headers")}, ?2, 'sending', NULL, ?4, ${v("off")}, ${v("len")}, ${v("attempt")}, NULL, ?3
       FROM json_each(?1)
       RETURNING id, message_id`,
    )
    .bind(JSON.stringify(rows), transport, now, objectKey);
}

function insertLinks(d1: D1Database, rows: unknown[], now: number) {
  return d1
    .prepare(
      `INSERT INTO links (key, kind, email_id, record_activity_id, url, created_at)
       SELECT json_extract(l.value, '$.key'), json_extract(l.value, '$.kind'), e.id, e.record_activity_id,
         json_extract(l.value, '$.url'), ?2
       FROM json_each(?1) AS l
       JOIN emails e ON e.record_activity_id = json_extract(l.value, '$.ra')
         AND e.message_id = json_extract(l.value, '$.mid')`,
    )
    .bind(JSON.stringify(rows), now);
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

/** Records how each delivery went, in one statement a chunk. */
export async function recordDeliveries(d1: D1Database, deliveries: Delivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  const statements = chunkBySize(deliveries).map((chunk) =>
    d1
      .prepare(
        `UPDATE emails SET status = u.status, error = u.error, sent_at = u.sent_at, provider_message_id = u.provider_id,
           answered_at = u.answered_at
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.status') AS status,
                      json_extract(value, '$.error') AS error, json_extract(value, '$.sentAt') AS sent_at,
                      json_extract(value, '$.providerId') AS provider_id,
                      json_extract(value, '$.answeredAt') AS answered_at
               FROM json_each(?1)) AS u
         WHERE emails.id = u.id`,
      )
      .bind(JSON.stringify(chunk)),
  );
  await d1.batch(statements);
}

const ABANDONED_RETRIED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity sent it again";
const ABANDONED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity did not send it again";

/**
 * The sweep's half of the no-orphan rule, for rows still `sending` once their claim has lapsed and that no live claim
 * holds. When the record activity is `done` and no other attempt of it is `sent`, the engine heard "sent" for this
 * one (only the archive's own write failed): it is marked `sent` at the record activity's time. Otherwise (retried
 * without a new send, cancelled, failed, or done by another attempt) it is marked `abandoned`. Reads only the rows
 * still sending (a partial index). Returns how many it settled.
 */
export async function reconcileAbandoned(d1: D1Database, now: number, claimTimeoutMs: number): Promise<number> {
  const orphan = `status = 'sending' AND created_at <= ?1 - ?2
    AND NOT EXISTS (SELECT 1 FROM record_activities ra WHERE ra.id = emails.record_activity_id
                    AND ra.state = 'running' AND ra.claimed_until > ?1)`;
  const delivered = `EXISTS (SELECT 1 FROM record_activities ra WHERE ra.id = emails.record_activity_id AND ra.state = 'done')
    AND NOT EXISTS (SELECT 1 FROM emails other WHERE other.record_activity_id = emails.record_activity_id
                    AND other.status = 'sent')`;
  const [sent, abandoned] = await d1.batch([
    d1
      .prepare(
        `UPDATE emails SET status = 'sent', error = NULL,
           sent_at = (SELECT at FROM record_activities WHERE id = emails.record_activity_id)
         WHERE ${orphan} AND ${delivered}`,
      )
      .bind(now, claimTimeoutMs),
    d1
      .prepare(`UPDATE emails SET status = 'abandoned', error = ?3 WHERE ${orphan}`)
      .bind(now, claimTimeoutMs, ABANDONED),
  ]);
  return (sent?.meta.changes ?? 0) + (abandoned?.meta.changes ?? 0);
}

/** Writes a batch's packed bodies: one R2 object. */
export async function putBodies(bucket: R2Bucket, key: string, bytes: Uint8Array): Promise<void> {
  await bucket.put(key, bytes, { httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } });
}

/** One e-mail's body: a ranged read of its batch's object (or the whole object for a body stored alone). */
export async function getBody(
  bucket: R2Bucket,
  row: { bodyKey: string; bodyOffset: number | null; bodyLength: number | null },
): Promise<BodyObject | null> {
  if (!row.bodyKey) return null;
  const ranged = row.bodyOffset !== null && row.bodyLength !== null;
  const object = await bucket.get(
    row.bodyKey,
    ranged ? { range: { offset: row.bodyOffset as number, length: row.bodyLength as number } } : undefined,
  );
  return object ? object.json<BodyObject>() : null;
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
