import type { EmailStatus } from "../db/schema/emails";
import { LAPSED_CLAIMS } from "../engine/claim";
import type { EmailJob } from "../engine/mailer";
import type { ComposedEmail } from "./compose";
import { packLinkUrls } from "./link-urls";
import { emailOfRecordActivity, inJsonIds } from "./of-record-activity";

/**
 * The write side of the e-mail archive. Rows travel as one JSON parameter a statement (D1 binds at most 100), so a
 * whole batch is archived in one D1 round trip and finished in another, whatever its size.
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

export interface BodyObject {
  html: string;
  text: string;
  raw: string;
  /** The headers as archived (decoded). E-mails archived before they moved here keep them in their D1 row. */
  headers?: Record<string, string>;
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
 * Where the `emails` sequence starts: 2^52. Ids from it never meet a record activity's id (those are the ids of first
 * attempts), fit the 16 digits a tracking key allows (src/tracking/keys.ts) and stay below 2^53, exact in JavaScript.
 */
export const EMAIL_SEQUENCE_BASE = 4503599627370496;

/**
 * The archive ids of a batch's e-mails, one per record activity (the tracking keys name them, so they are chosen
 * before composing). A first attempt takes its record activity's id: its row is then found by the primary key and
 * written with no index entry. The id is taken from the `emails` sequence instead when an e-mail already holds that
 * number (an earlier attempt, or an e-mail archived before) or the record activity already has an e-mail, so a record
 * activity's e-mails keep growing ids. One read a batch, and one write when any id comes from the sequence.
 */
export async function chooseEmailIds(d1: D1Database, recordActivityIds: number[]): Promise<number[]> {
  const { results } = await d1
    .prepare(
      `SELECT j.value AS id FROM json_each(?1) j
       WHERE EXISTS (SELECT 1 FROM emails WHERE id = j.value)
          OR EXISTS (SELECT 1 FROM emails m WHERE m.record_activity_id = j.value AND m.id <> m.record_activity_id)`,
    )
    .bind(JSON.stringify(recordActivityIds))
    .all<{ id: number }>();
  const taken = new Set(results.map((r) => r.id));
  const ids = recordActivityIds.map((ra) => {
    const own = !taken.has(ra) && ra < EMAIL_SEQUENCE_BASE;
    taken.add(ra);
    return own ? ra : null;
  });
  const missing = ids.filter((id) => id === null).length;
  if (missing === 0) return ids as number[];
  let next = await reserveEmailIds(d1, missing);
  return ids.map((id) => id ?? next++);
}

/**
 * Reserves `count` consecutive e-mail ids of the `emails` sequence and returns the first: one row written. The block
 * starts at EMAIL_SEQUENCE_BASE or after the highest id already used, so rows inserted any other way never collide.
 */
export async function reserveEmailIds(d1: D1Database, count: number): Promise<number> {
  const row = await d1
    .prepare(
      `INSERT INTO sequences (name, value)
       VALUES ('emails', max(?2 - 1, (SELECT COALESCE(MAX(id), 0) FROM emails)) + ?1)
       ON CONFLICT (name) DO UPDATE SET value = max(value, ?2 - 1, (SELECT COALESCE(MAX(id), 0) FROM emails)) + ?1
       RETURNING value`,
    )
    .bind(count, EMAIL_SEQUENCE_BASE)
    .first<{ value: number }>();
  if (!row) throw new Error("no e-mail ids could be reserved");
  return row.value - count + 1;
}

/**
 * Inserts one `emails` row per attempt (status `sending`, with its chosen id, where its body will be and its links'
 * URLs) before anything is delivered, so a click on a link that was sent always finds its e-mail. Rows travel as one
 * JSON parameter a statement; all statements go in one D1 batch (a transaction). No `links` row is written: the keys
 * are signed and name the e-mail and a position in `link_urls`.
 */
export async function archiveAttempts(
  d1: D1Database,
  attempts: Attempt[],
  transport: string,
  now: number,
  objectKey: string,
): Promise<number[]> {
  const emailRows = await Promise.all(
    attempts.map(async ({ id, job, email, body }) => ({
      id,
      ra: job.recordActivityId,
      scenario: job.scenario.id,
      activity: job.activity.id,
      sr: job.scenarioRecord.id,
      to: email.headers.To,
      from: email.headers.From,
      subject: email.subject,
      mid: email.messageId,
      attempt: job.attempt,
      off: body.offset,
      len: body.length,
      urls: await packLinkUrls(email.links.filter((l) => l.kind !== "open").map((l) => l.url as string)),
    })),
  );
  // A row this record activity left `sending` belongs to a claim whose Worker died before the transport answered:
  // this claim now holds the record activity, so that attempt will never be recorded. It is not known to be delivered.
  const statements: D1PreparedStatement[] = [
    d1
      .prepare(
        `UPDATE emails SET status = 'abandoned', error = ?2
         WHERE status = 'sending' AND ${emailOfRecordActivity("emails", inJsonIds("?1"))}`,
      )
      .bind(JSON.stringify(attempts.map((a) => a.job.recordActivityId)), ABANDONED_RETRIED),
  ];
  for (const chunk of chunkBySize(emailRows)) statements.push(insertEmails(d1, chunk, transport, now, objectKey));
  await d1.batch(statements);
  return attempts.map(({ id }) => id);
}

// The headers live in the body object in R2 (the raw message holds them anyway): `'{}'` keeps D1 rows small.
function insertEmails(d1: D1Database, rows: unknown[], transport: string, now: number, objectKey: string) {
  const v = (path: string) => `json_extract(value, '$.${path}')`;
  return d1
    .prepare(
      `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
         message_id, headers, transport, status, error, body_key, body_offset, body_length, attempt, link_urls,
         sent_at, created_at)
       SELECT ${v("id")}, ${v("ra")}, ${v("scenario")}, ${v("activity")}, ${v("sr")}, ${v("to")}, ${v("from")},
         ${v("subject")}, ${v("mid")}, '{}', ?2, 'sending', NULL, ?4, ${v("off")}, ${v("len")}, ${v("attempt")},
         ${v("urls")}, NULL, ?3
       FROM json_each(?1)`,
    )
    .bind(JSON.stringify(rows), transport, now, objectKey);
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
/** An attempt whose answer was never recorded, settled when its record activity's claim commits. */
export const ABANDONED_UNRECORDED =
  "the transport's answer was never recorded: not known to be delivered; its record activity did not send it again";

/**
 * The sweep's half of the no-orphan rule. A commit settles every e-mail of its record activities still `sending`
 * (src/engine/commit.ts); what is left is the e-mails of record activities whose claim lapsed and that nobody has
 * claimed again (a stopped scenario's parked backlog, say): those are `abandoned`, not known to be delivered. They are
 * found from the lapsed claims (the small `claims` table), so the archive needs no index of its own for rows being sent. Returns how many it settled.
 */
export async function reconcileAbandoned(d1: D1Database, now: number, claimTimeoutMs: number): Promise<number> {
  const result = await d1
    .prepare(
      `UPDATE emails SET status = 'abandoned', error = ?3
       WHERE status = 'sending' AND created_at <= ?1 - ?2
         AND ${emailOfRecordActivity("emails", (c) => `${c} IN (${LAPSED_CLAIMS})`)}`,
    )
    .bind(now, claimTimeoutMs, ABANDONED)
    .run();
  return result.meta.changes ?? 0;
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
