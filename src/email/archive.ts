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
}

export interface BodyObject {
  html: string;
  text: string;
  raw: string;
}

export const bodyKey = (emailId: number) => `emails/${emailId}.json`;

/**
 * Inserts one `emails` row (status `sending`) per attempt and its `links` rows, in one D1 batch (a transaction), before
 * anything is delivered: a click on a link that was sent always finds its key. Returns the e-mail ids, in order.
 * The body key needs the id, so it is set by an UPDATE in the same batch, which also returns the ids.
 */
export async function archiveAttempts(
  d1: D1Database,
  attempts: Attempt[],
  transport: string,
  now: number,
): Promise<number[]> {
  const emailRows = attempts.map(({ job, email }) => ({
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
  }));
  const linkRows = attempts.flatMap(({ job, email }) =>
    email.links.map((l) => ({ key: l.key, kind: l.kind, url: l.url, ra: job.recordActivityId, mid: email.messageId })),
  );
  const emailChunks = chunkBySize(emailRows);
  const statements: D1PreparedStatement[] = [];
  for (const chunk of emailChunks) statements.push(insertEmails(d1, chunk, transport, now));
  const keyed = emailChunks.map((chunk) =>
    setBodyKeys(
      d1,
      chunk.map((r) => r.ra),
    ),
  );
  statements.push(...keyed);
  for (const chunk of chunkBySize(linkRows)) statements.push(insertLinks(d1, chunk, now));

  const results = await d1.batch<{ id: number; message_id: string }>(statements);
  const idOf = new Map<string, number>();
  for (const r of results.slice(emailChunks.length, emailChunks.length + keyed.length)) {
    for (const row of r.results) idOf.set(row.message_id, row.id);
  }
  return attempts.map(({ email }) => {
    const id = idOf.get(email.messageId);
    if (id === undefined) throw new Error(`the archive row of ${email.messageId} was not created`);
    return id;
  });
}

function insertEmails(d1: D1Database, rows: unknown[], transport: string, now: number) {
  const v = (path: string) => `json_extract(value, '$.${path}')`;
  return d1
    .prepare(
      `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
         message_id, headers, transport, status, error, body_key, attempt, sent_at, created_at)
       SELECT ${v("ra")}, ${v("scenario")}, ${v("activity")}, ${v("sr")}, ${v("to")}, ${v("from")}, ${v("subject")},
         ${v("mid")}, ${v("headers")}, ?2, 'sending', NULL, '', ${v("attempt")}, NULL, ?3
       FROM json_each(?1)`,
    )
    .bind(JSON.stringify(rows), transport, now);
}

/** Rows still without a body key are the ones just inserted: the batch is a transaction. */
function setBodyKeys(d1: D1Database, recordActivityIds: number[]) {
  return d1
    .prepare(
      `UPDATE emails SET body_key = 'emails/' || id || '.json'
       WHERE record_activity_id IN (SELECT value FROM json_each(?1)) AND body_key = ''
       RETURNING id, message_id`,
    )
    .bind(JSON.stringify(recordActivityIds));
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
}

/** Records how each delivery went, in one statement a chunk. */
export async function recordDeliveries(d1: D1Database, deliveries: Delivery[]): Promise<void> {
  if (deliveries.length === 0) return;
  const statements = chunkBySize(deliveries).map((chunk) =>
    d1
      .prepare(
        `UPDATE emails SET status = u.status, error = u.error, sent_at = u.sent_at
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.status') AS status,
                      json_extract(value, '$.error') AS error, json_extract(value, '$.sentAt') AS sent_at
               FROM json_each(?1)) AS u
         WHERE emails.id = u.id`,
      )
      .bind(JSON.stringify(chunk)),
  );
  await d1.batch(statements);
}

export async function putBody(bucket: R2Bucket, emailId: number, body: BodyObject): Promise<void> {
  await bucket.put(bodyKey(emailId), JSON.stringify(body), {
    httpMetadata: { contentType: "application/json; charset=utf-8" },
  });
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
