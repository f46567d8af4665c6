import { LAPSED_CLAIMS } from "../db/claims";
import { EMAIL_SEQUENCE_BASE } from "./archive-ids";
import { emailOfRecordActivity } from "./of-record-activity";

/**
 * The e-mail half of claim, commit and sweep: the SQL that archives the rows a claim staged before delivery, embedded
 * in the claim's takeover, the commit's transaction and the minute sweep (docs/email.md). `ArchiveRow`s in JSON.
 */

/** SQL: a field of an archive row in JSON (`value`, from `json_each`, unless another is named). */
export const v = (path: string, row = "value") => `json_extract(${row}, '$.${path}')`;

/** The `emails` columns an archive row fills. */
export const EMAIL_COLUMNS = `id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
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
export const emailValues = (o: Outcome, row = "value") =>
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

export const ABANDONED_RETRIED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity sent it again";
/** Archived by the sweep: the claim lapsed and nobody has taken it over yet (its scenario stopped, say). */
export const ABANDONED =
  "the Worker stopped before the transport answered: not known to be delivered; its record activity tries again (while attempts remain) when its claim is taken over";
/** Archived by the takeover of the claim (at once after a Scheduler restart, else when the claim lapsed). */
export const ABANDONED_TAKEN_OVER =
  "the Worker stopped before the transport answered: not known to be delivered; its claim was taken over and its record activity tries again (while attempts remain)";
/** An attempt whose answer was never recorded, settled when its record activity's claim commits. */
export const ABANDONED_UNRECORDED =
  "the transport's answer was never recorded: not known to be delivered; its record activity's state says what followed (a retry sends it again)";

/**
 * The sweep's half of the no-orphan rule: what is left of lapsed claims that nobody has taken over (a stopped
 * scenario's parked backlog, say). Their staged rows are archived `abandoned`, not known to be delivered (the staged copy stays for the takeover);
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
    // The staged copy stays for the takeover, which counts the attempt of a row with an e-mail staged (the archive
    // rows written here stop it from archiving them twice) and deletes the claim once it holds nothing.
    ...archiveStaged(d1, "c.until <= ?1", abandonedWith("?2"))(now, ABANDONED),
  ]);
  return (sending?.meta.changes ?? 0) + (onRecordActivity?.meta.changes ?? 0) + (asRows?.meta.changes ?? 0);
}

/**
 * Recovery of a claim whose Worker died, from its journal: only the staged rows of attempts that reached the transport
 * (`?2`, their e-mail ids) stay staged; the others were never sent, so they leave no archive row and their record
 * activities no attempt counted (the takeover counts one for a row with an e-mail staged).
 */
export function keepTriedInStaged(d1: D1Database, claimKey: string, triedIds: number[]) {
  return d1
    .prepare(
      `UPDATE claims SET staged = (
         SELECT json_group_array(json(s.value)) FROM json_each(claims.staged) s
         WHERE ${v("id", "s.value")} IN (SELECT value FROM json_each(?2)))
       WHERE key = ?1 AND staged IS NOT NULL`,
    )
    .bind(claimKey, JSON.stringify(triedIds));
}
