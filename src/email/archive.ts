import type { EmailStatus } from "../db/schema/emails";
import { LAPSED_CLAIMS } from "../engine/execution/claim";
import { randomHex } from "../ids";
import type { ComposedEmail } from "./compose";
import type { EmailJob } from "./job";
import { packLinkUrls } from "./link-urls";
import { emailOfRecordActivity, inJsonIds } from "./of-record-activity";

/**
 * The write side of the e-mail archive. Rows travel as one JSON parameter a statement (D1 binds at most 100), so a
 * whole batch is staged in its claim in one D1 round trip before delivery and archived in another after, whatever its
 * size: each `emails` row is written once, with its outcome (the lifecycle is in docs/email.md).
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

/** A delivery batch's nonce: 48 random bits, 12 hex. Its rows store it as `body_key`. */
export const batchNonce = () => randomHex(6);
const NONCE = /^[0-9a-f]{12}$/;

/**
 * The R2 key of an e-mail's body object. Rows store only their batch's nonce: the key is `batchKey(created_at, nonce)`,
 * the batch's `now` being each row's `created_at` (`archiveAttempts`). Rows written before store the whole key.
 */
export const bodyObjectKey = (row: { bodyKey: string; createdAt: number }): string =>
  NONCE.test(row.bodyKey) ? batchKey(row.createdAt, row.bodyKey) : row.bodyKey;

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
 * How long after its record activity was created an e-mail may still take that record activity's id. Ids then grow
 * with the time e-mails are sent, within this slack, in each id range, which retention relies on (it reads each range
 * from its lowest id): an e-mail sent later than this (a delay, a deferral by a frequency cap) takes a sequence id.
 */
export const OWN_ID_WITHIN_MS = 24 * 60 * 60_000;

/**
 * The archive ids of a batch's e-mails, one per record activity (the tracking keys name them, so they are chosen
 * before composing). A first attempt takes its record activity's id: its row is then found by the primary key and
 * written with no index entry. The id is taken from the `emails` sequence instead when an e-mail already holds that
 * number (an earlier attempt, or an e-mail archived before), the record activity already has an e-mail (so a record
 * activity's e-mails keep growing ids), or it was created more than OWN_ID_WITHIN_MS before `now`. One read a batch,
 * and one write when any id comes from the sequence.
 */
export async function chooseEmailIds(d1: D1Database, recordActivityIds: number[], now: number): Promise<number[]> {
  const { results } = await d1
    .prepare(
      `SELECT j.value AS id FROM json_each(?1) j
       WHERE EXISTS (SELECT 1 FROM email_archive WHERE id = j.value)
          OR EXISTS (SELECT 1 FROM email_archive m WHERE ${emailOfRecordActivity("m", (c) => `${c} = j.value`)})
          OR (SELECT created_at FROM record_activities WHERE id = j.value) < ?2`,
    )
    .bind(JSON.stringify(recordActivityIds), now - OWN_ID_WITHIN_MS)
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

/** SQL: a field of an archive row in JSON (`value`, from `json_each`, unless another is named). */
const v = (path: string, row = "value") => `json_extract(${row}, '$.${path}')`;

/** The `emails` columns an archive row fills. */
const EMAIL_COLUMNS = `id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
  message_id, headers, transport, status, error, body_key, body_offset, body_length, attempt, link_urls, sent_at,
  provider_message_id, answered_at, created_at`;

/** SQL over an archive row: how its attempt went. */
interface Outcome {
  status: string;
  error: string;
  sentAt: string;
  providerId: string;
  answeredAt: string;
}

/** What whoever archives a staged row knows when the transport's answer was not added to it (SQL over the row). */
type Fallback = (row: string) => { status: string; error: string; sentAt: string };

/**
 * SQL: the outcome of the staged row `row`: the one `recordDeliveries` added to it when the transport answered, else
 * the fallback (the commit's: sent when the engine heard sent, else abandoned; a takeover's or the sweep's: abandoned).
 */
function stagedOutcome(row: string, fallback: Fallback): Outcome {
  const heard = `${v("st", row)} IS NOT NULL`;
  const f = fallback(row);
  return {
    status: `CASE WHEN ${heard} THEN ${v("st", row)} ELSE ${f.status} END`,
    error: `CASE WHEN ${heard} THEN ${v("err", row)} ELSE ${f.error} END`,
    sentAt: `CASE WHEN ${heard} THEN ${v("sent", row)} ELSE ${f.sentAt} END`,
    providerId: v("pid", row),
    answeredAt: `NULLIF(${v("ans", row)}, ${v("sent", row)})`,
  };
}

/**
 * SQL: the values of EMAIL_COLUMNS from an archive row in JSON and its outcome. The headers live in the body object in
 * R2 (the raw message holds them anyway): `'{}'` keeps D1 rows small.
 */
const emailValues = (o: Outcome, row = "value") =>
  `${v("id", row)}, ${v("ra", row)}, ${v("scenario", row)}, ${v("activity", row)}, ${v("sr", row)}, ${v("to", row)},
   ${v("from", row)}, ${v("subject", row)}, ${v("mid", row)}, '{}', ${v("transport", row)}, ${o.status}, ${o.error},
   ${v("key", row)}, ${v("off", row)}, ${v("len", row)}, ${v("attempt", row)}, ${v("urls", row)}, ${o.sentAt},
   ${o.providerId}, ${o.answeredAt}, ${v("at", row)}`;

/**
 * SQL: the archive row `row` is a first attempt, whose id is its record activity's: it is archived on that record
 * activity's row (`record_activities.email_*`, read through `email_archive`), in the write that settles it, so the
 * e-mail costs no row of its own. Every other attempt is an `emails` row.
 */
export const onItsRecordActivity = (row = "value") => `${v("id", row)} = ${v("ra", row)}`;

/**
 * SQL: the assignments of an UPDATE of `record_activities` that archive the row `row` (JSON) with outcome `o` on it,
 * each only `when` that holds (else the column keeps its value). The record activity's own columns hold its ids.
 */
export function archiveOnRecordActivity(row: string, o: Outcome, when = "1"): string {
  const set = (column: string, value: string) =>
    `${column} = CASE WHEN ${when} THEN ${value} ELSE record_activities.${column} END`;
  return [
    set("email_status", o.status),
    set("email_to", v("to", row)),
    set("email_from", v("from", row)),
    set("email_subject", v("subject", row)),
    set("email_transport", v("transport", row)),
    set("email_error", o.error),
    set("email_body_key", v("key", row)),
    set("email_body_offset", v("off", row)),
    set("email_body_length", v("len", row)),
    set("email_attempt", v("attempt", row)),
    set("email_link_urls", v("urls", row)),
    set("email_provider_id", o.providerId),
    set("email_sent_at", o.sentAt),
    set("email_answered_at", o.answeredAt),
    set("email_created_at", v("at", row)),
  ].join(", ");
}

/** The columns of `record_activities` that hold the e-mail archived on it (all NULL while it has none). */
export const RECORD_ACTIVITY_EMAIL_COLUMNS = [
  "email_status",
  "email_to",
  "email_from",
  "email_subject",
  "email_transport",
  "email_error",
  "email_body_key",
  "email_body_offset",
  "email_body_length",
  "email_attempt",
  "email_link_urls",
  "email_provider_id",
  "email_sent_at",
  "email_answered_at",
  "email_created_at",
];

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
  await d1.batch(statements);
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

/**
 * SQL: archives the staged rows of the claims rows matching `where` (aliased `c`) not archived yet, with their outcome
 * or the fallback: first attempts on their record activity's row, the others as `emails` rows. Two statements, which
 * take the same parameters (the caller binds them).
 */
function archiveStaged(d1: D1Database, where: string, fallback: Fallback) {
  const staged = `SELECT j.value AS value FROM claims c, json_each(c.staged) j WHERE c.staged IS NOT NULL AND ${where}`;
  const onRecordActivity = d1.prepare(
    `UPDATE record_activities SET ${archiveOnRecordActivity("s.value", stagedOutcome("s.value", fallback))}
     FROM (${staged} AND ${onItsRecordActivity("j.value")}) AS s
     WHERE record_activities.id = ${v("id", "s.value")} AND record_activities.email_status IS NULL`,
  );
  const asRows = d1.prepare(
    `INSERT OR IGNORE INTO emails (${EMAIL_COLUMNS})
     SELECT ${emailValues(stagedOutcome("value", fallback))} FROM (${staged} AND NOT ${onItsRecordActivity("j.value")})
     WHERE NOT EXISTS (SELECT 1 FROM emails e WHERE e.id = ${v("id")})`,
  );
  return (...params: unknown[]) => [onRecordActivity.bind(...params), asRows.bind(...params)];
}

/** The commit's fallback: `sent` when the engine heard sent (`?2`, the e-mail ids), else abandoned (`?3`) at `?4`. */
const HEARD_SENT: Fallback = (row) => {
  const sent = `${v("id", row)} IN (SELECT value FROM json_each(?2))`;
  return {
    status: `CASE WHEN ${sent} THEN 'sent' ELSE 'abandoned' END`,
    error: `CASE WHEN ${sent} THEN NULL ELSE ?3 END`,
    sentAt: `CASE WHEN ${sent} THEN ?4 END`,
  };
};

/**
 * SQL, for the commit's update of its record activities (`record_activities`, joined to `s`, this claim's staged
 * first attempts, by id): the assignments that archive each one's e-mail on its row, in the same write. `?2`: the
 * e-mail ids the engine heard sent, `?3`: ABANDONED_UNRECORDED, `?4`: now; the claim's key is bound by the caller.
 */
export const archiveInCommit = () =>
  archiveOnRecordActivity("s.value", stagedOutcome("s.value", HEARD_SENT), "s.value IS NOT NULL");

/**
 * SQL: the staged first attempts of the claim `key` (columns `id`, the e-mail's, and `value`, its archive row), for
 * `archiveInCommit`: joined on `id`, which SQLite indexes once for the statement (not a scan of them a row).
 */
export const stagedFirstAttempts = (key: string) =>
  `SELECT ${v("id", "j.value")} AS id, j.value AS value FROM claims c, json_each(c.staged) j
   WHERE c.key = ${key} AND c.staged IS NOT NULL AND ${onItsRecordActivity("j.value")}`;

/**
 * The commit's half, in its transaction after its update of the record activities and before its claims rows are
 * deleted: what this claim staged and did not archive in that update is archived, with its outcome, or `sent` when
 * the engine heard sent, else `abandoned`.
 */
export function archiveStagedOfClaim(d1: D1Database, claimKey: string, sentIds: number[], now: number) {
  return archiveStaged(d1, "c.key = ?1", HEARD_SENT)(claimKey, JSON.stringify(sentIds), ABANDONED_UNRECORDED, now);
}

/** A takeover's or the sweep's fallback: abandoned, with the error bound at `param`. */
const abandonedWith =
  (param: string): Fallback =>
  () => ({ status: "'abandoned'", error: param, sentAt: "NULL" });

/**
 * The takeover's half, in the claim's transaction before lapsed claims rows are deleted: the rows staged by the
 * shard's lapsed claims (other than `claimKey`) are archived with their outcome, or `abandoned` (their Worker is
 * presumed dead: not known to be delivered), then cleared. A Worker that was only slow still records its outcome over
 * them.
 */
export function archiveStagedOfLapsed(d1: D1Database, o: { shard: number; now: number; claimKey: string }) {
  const lapsed = "c.shard = ?1 AND c.until <= ?2 AND c.key != ?3";
  return [
    ...archiveStaged(d1, lapsed, abandonedWith("?4"))(o.shard, o.now, o.claimKey, ABANDONED_TAKEN_OVER),
    d1
      .prepare("UPDATE claims SET staged = NULL WHERE shard = ?1 AND until <= ?2 AND key != ?3 AND staged IS NOT NULL")
      .bind(o.shard, o.now, o.claimKey),
  ];
}

/**
 * A staged e-mail by id, in the columns the tracking routes read from `emails` (status `sending`: not archived yet),
 * for a lookup that missed the archive: a click between the delivery and the insert. The `claims` table is tiny (a
 * few rows a shard). Pass the primary (the binding, not a replica's session): staged rows are seconds old.
 */
export function stagedEmailRow<T>(d1: D1Database, id: number): Promise<T | null> {
  return d1
    .prepare(
      `SELECT ${v("id")} AS id, ${v("ra")} AS record_activity_id, ${v("scenario")} AS scenario_id,
         ${v("activity")} AS activity_id, ${v("sr")} AS scenario_record_id, NULL AS sent_at, 'sending' AS status,
         ${v("urls")} AS link_urls
       FROM claims c, json_each(c.staged)
       WHERE c.staged IS NOT NULL
         -- A first attempt's id is its record activity's: only the claims row that lists it is opened (a miss, e.g. an
         -- e-mail retention removed, parses no staged JSON); a sequence id (a retry) looks through them all.
         AND (?1 >= ?2 OR EXISTS (SELECT 1 FROM json_each(c.ids) i WHERE i.value = ?1))
         AND ${v("id")} = ?1
       LIMIT 1`,
    )
    .bind(id, EMAIL_SEQUENCE_BASE)
    .first<T>();
}

const ABANDONED_RETRIED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity sent it again";
const ABANDONED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity did not send it again";
const ABANDONED_TAKEN_OVER =
  "the Worker stopped before its answer was archived: not known to be delivered; its claim was taken over";
/** An attempt whose answer was never recorded, settled when its record activity's claim commits. */
export const ABANDONED_UNRECORDED =
  "the transport's answer was never recorded: not known to be delivered; its record activity did not send it again";

/**
 * The sweep's half of the no-orphan rule: what is left of lapsed claims that nobody has taken over (a stopped
 * scenario's parked backlog, say). Their staged rows are archived `abandoned`, not known to be delivered, and cleared;
 * rows left `sending` (archived before staging existed, or not staged) of their record activities are settled
 * `abandoned` too. Found from the lapsed claims (the small `claims` table), so the archive needs no index of its own
 * for e-mails being sent. Returns how many it settled.
 */
export async function reconcileAbandoned(d1: D1Database, now: number, claimTimeoutMs: number): Promise<number> {
  const [sending, onRecordActivity, asRows] = await d1.batch([
    d1
      .prepare(
        `UPDATE emails SET status = 'abandoned', error = ?3
         WHERE status = 'sending' AND created_at <= ?1 - ?2
           AND ${emailOfRecordActivity("emails", (c) => `${c} IN (${LAPSED_CLAIMS})`)}`,
      )
      .bind(now, claimTimeoutMs, ABANDONED),
    ...archiveStaged(d1, "c.until <= ?1", abandonedWith("?2"))(now, ABANDONED),
    d1.prepare("UPDATE claims SET staged = NULL WHERE until <= ?1 AND staged IS NOT NULL").bind(now),
  ]);
  return (sending?.meta.changes ?? 0) + (onRecordActivity?.meta.changes ?? 0) + (asRows?.meta.changes ?? 0);
}

/** Writes a batch's packed bodies: one R2 object. */
export async function putBodies(bucket: R2Bucket, key: string, bytes: Uint8Array): Promise<void> {
  await bucket.put(key, bytes, { httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } });
}

/** One e-mail's body: a ranged read of its batch's object (or the whole object for a body stored alone). */
export async function getBody(
  bucket: R2Bucket,
  row: { bodyKey: string; bodyOffset: number | null; bodyLength: number | null; createdAt: number },
): Promise<BodyObject | null> {
  if (!row.bodyKey) return null;
  const ranged = row.bodyOffset !== null && row.bodyLength !== null;
  const object = await bucket.get(
    bodyObjectKey(row),
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
