/**
 * What executing record activities writes: the statements of a shard's claim (src/engine/execution/claim.ts builds its
 * batch and reads it) and of a claim's commit (src/engine/execution/commit.ts): settlements, the children of what is
 * done, the siblings an `email_not_X` cancels, the e-mails heard `sent` late.
 */
import { listedBy, STILL_CLAIMED } from "../../db/claims";
import { shardSql } from "../../db/shards";
import { ABANDONED_UNRECORDED, archiveInCommit, archiveStagedOfLapsed, stagedFirstAttempts } from "../../email/staged";
import { DUE_HEAD, PAUSED } from "./due";

/** SQL: the ids listed by the lapsed claims of shard `?1` at `?2`: their Workers are presumed dead. */
const LAPSED_HELD = listedBy("p", "pc.shard = ?1 AND pc.until <= ?2");

/**
 * One shard's claim, in one D1 batch (a transaction): the `claims` row is written with the ids of the head rows that
 * can run. That row is all a claim writes, unless it takes over rows of lapsed claims: those that were tried get the
 * dead attempt counted (`attempts + 1`, so a row whose Worker dies every time still runs out of attempts), and leave the lapsed
 * claim's list, so that claim's late commit can no longer settle them; the e-mails the lapsed claims
 * had staged are archived `abandoned` (src/email/archive.ts); lapsed claims left holding nothing are deleted.
 * The batch's last statement reads the rows claimed (`attempts` already counting this one).
 */
export function claimShardStatements(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number; until: number },
): D1PreparedStatement[] {
  const taken = listedBy("t", "tc.key = ?3 AND tc.shard = ?1");
  return [
    // Rows claimed before the upgrade are `running` under their claim's key: once it lapses, they are waiting rows
    // of a lapsed claim like any other (that claim already counted the attempt that the takeover counts again).
    d1
      .prepare(
        `UPDATE record_activities
         SET state = 'waiting', claim_key = NULL, claimed_until = NULL, attempts = max(attempts - 1, 0)
         WHERE id IN (${LAPSED_HELD}) AND state = 'running'
           AND claim_key IN (SELECT key FROM claims WHERE shard = ?1 AND until <= ?2)`,
      )
      .bind(o.shard, o.now),
    d1
      .prepare(
        `INSERT INTO claims (key, shard, until, ids, created_at)
         SELECT ?4, ?1, ?5, json_group_array(id), ?2 FROM (
           SELECT due.id FROM (${DUE_HEAD}) AS due
           JOIN record_activities ra ON ra.id = due.id
           JOIN scenarios s ON s.id = ra.scenario_id AND s.state = 'running'
           JOIN scenario_records sr ON sr.id = ra.scenario_record_id AND sr.blocked = 0
           ORDER BY due.at LIMIT ?3)
         HAVING count(*) > 0`,
      )
      .bind(o.shard, o.now, o.limit, o.claimKey, o.until),
    d1
      .prepare(
        // Only a dead attempt that may have reached the transport counts: an e-mail staged for the row (the mailer
        // stages a batch just before delivering it; a recovered claim keeps only what its journal says was tried), an
        // action other than send_email (its tries leave no trace), or a claim that died before it staged any e-mail
        // (composing them may be what kills the Worker: a poison e-mail must still run out of attempts). A row left
        // untried behind a batch that was being delivered costs no attempt.
        `UPDATE record_activities SET attempts = attempts + 1
         WHERE id IN (${LAPSED_HELD} AND pc.key != ?3 AND pj.value IN (${taken})
           AND (NOT EXISTS (SELECT 1 FROM claims k WHERE k.key = pc.key AND k.staged IS NOT NULL)
                OR EXISTS (SELECT 1 FROM json_each(pc.staged) s WHERE json_extract(s.value, '$.ra') = pj.value)
                OR (SELECT a.action FROM record_activities x JOIN activities a ON a.id = x.activity_id
                    WHERE x.id = pj.value) IS NOT 'send_email'))`,
      )
      .bind(o.shard, o.now, o.claimKey),
    d1
      .prepare(
        `UPDATE claims SET ids = (SELECT json_group_array(j.value) FROM json_each(claims.ids) j WHERE j.value NOT IN (${taken}))
         WHERE shard = ?1 AND until <= ?2 AND key != ?3
           AND EXISTS (SELECT 1 FROM json_each(claims.ids) j WHERE j.value IN (${taken}))`,
      )
      .bind(o.shard, o.now, o.claimKey),
    ...archiveStagedOfLapsed(d1, o),
    d1
      .prepare(
        `DELETE FROM claims
         WHERE shard = ?1 AND until <= ?2 AND key != ?3 AND NOT EXISTS (
           SELECT 1 FROM json_each(claims.ids) j JOIN record_activities ra ON ra.id = j.value WHERE ra.state = 'waiting')`,
      )
      .bind(o.shard, o.now, o.claimKey),
    d1
      .prepare(
        `SELECT id, scenario_record_id, activity_id, scenario_id, shard, attempts + 1 AS attempts
         FROM record_activities WHERE id IN (${taken}) ORDER BY at, id`,
      )
      .bind(o.shard, o.now, o.claimKey),
  ];
}

/** A settlement as the commit writes it: its new state, and whether the attempt counts and an e-mail went out. */
export interface SettledRow {
  id: number;
  state: string;
  reason: string | null;
  at: number;
  uncount: number;
  emailed: number;
}

/**
 * The one write of each record activity a claim settles, which archives its first attempt's e-mail (staged in the
 * claim) on it too; `sent`: the e-mails the engine heard sent. Only rows still held by claim `claimKey` are touched.
 */
export function commitSettlements(
  d1: D1Database,
  o: { claimKey: string; rows: SettledRow[]; sent: number[]; now: number },
) {
  return d1
    .prepare(
      `UPDATE record_activities
         SET state = u.state, reason = u.reason, at = u.at,
             due_at = CASE WHEN u.state = 'waiting' THEN u.at ELSE record_activities.due_at END,
             parked = CASE WHEN u.state = 'waiting' THEN ${PAUSED("record_activities")} ELSE 0 END,
             attempts = record_activities.attempts + 1 - u.uncount, emailed = u.emailed, updated_at = ?4,
             ${archiveInCommit()}
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.state') AS state,
                      json_extract(value, '$.reason') AS reason, json_extract(value, '$.at') AS at,
                      json_extract(value, '$.uncount') AS uncount, json_extract(value, '$.emailed') AS emailed
               FROM json_each(?1)) AS u
         LEFT JOIN (${stagedFirstAttempts("?5")}) AS s ON s.id = u.id
         WHERE record_activities.id = u.id AND ${STILL_CLAIMED("record_activities", "?5")}`,
    )
    .bind(JSON.stringify(o.rows), JSON.stringify(o.sent), ABANDONED_UNRECORDED, o.now, o.claimKey);
}

/**
 * A child of a done record activity: due at now + delay unless it waits for an event. The parent's flags are read in
 * the same statement, so an open or click that arrived while the e-mail was being sent is not lost. `doneIds`,
 * `due` (child activity id → due time) and `branches` (done id → the split branch its record takes) in JSON.
 */
export function createChildrenOfDone(d1: D1Database, doneIds: string, due: string, branches: string, now: number) {
  const dueOf = `json_extract(?2, '$."' || c.id || '"')`;
  // `IS` (never null) so the lookup of a confirmation is only made for the children that wait for one.
  const confirmed = `EXISTS (SELECT 1 FROM subscription_confirmations sc WHERE sc.scenario_record_id = parent.scenario_record_id)`;
  const eventHappened = `((c."on" = 'email_opened' AND parent.email_opened) OR (c."on" = 'email_clicked' AND parent.email_clicked)
    OR (c."on" IS 'subscription_confirmed' AND ${confirmed}))`;
  const eventMissed = `((c."on" = 'email_not_opened' AND parent.email_opened) OR (c."on" = 'email_not_clicked' AND parent.email_clicked)
    OR (c."on" IS 'subscription_not_confirmed' AND ${confirmed}))`;
  const timed = `(c."on" IS NULL OR c."on" IN ('email_not_opened', 'email_not_clicked', 'split', 'record_not_changed',
    'subscription_not_confirmed'))`;
  // A bounce or rejection recorded while the e-mail was still being committed is not lost either.
  const bounced = `(c."on" = 'email_bounced' AND EXISTS (SELECT 1 FROM delivery_events d WHERE d.record_activity_id = parent.id
    AND d.kind IN ('hard_bounce', 'rejected')))`;
  return d1
    .prepare(
      `INSERT OR IGNORE INTO record_activities
         (scenario_record_id, activity_id, scenario_id, shard, state, parked, at, due_at, reason, attempts, created_at,
          updated_at)
       SELECT parent.scenario_record_id, c.id, parent.scenario_id, ${shardSql("parent.scenario_record_id")},
         CASE WHEN ${eventMissed} THEN 'cancelled' ELSE 'waiting' END, ${PAUSED("parent")},
         CASE WHEN ${eventMissed} THEN ?3 WHEN ${timed} OR ${eventHappened} OR ${bounced} THEN ${dueOf} ELSE NULL END,
         CASE WHEN ${eventMissed} THEN NULL WHEN ${timed} OR ${eventHappened} OR ${bounced} THEN ${dueOf} ELSE NULL END,
         CASE WHEN c."on" = 'email_not_opened' AND parent.email_opened THEN 'the e-mail was opened'
              WHEN c."on" = 'email_not_clicked' AND parent.email_clicked THEN 'the e-mail was clicked'
              WHEN c."on" = 'email_opened' AND NOT parent.email_opened THEN 'waiting for the e-mail to be opened'
              WHEN c."on" = 'email_clicked' AND NOT parent.email_clicked THEN 'waiting for a click in the e-mail'
              WHEN c."on" = 'record_changed' THEN 'waiting for the record to change'
              WHEN c."on" = 'email_bounced' AND NOT ${bounced} THEN 'waiting for the e-mail to bounce'
              WHEN c."on" IS 'subscription_not_confirmed' AND ${confirmed} THEN 'the subscription was confirmed'
              WHEN c."on" IS 'subscription_confirmed' AND NOT ${confirmed}
                THEN 'waiting for the recipient to confirm the subscription'
              ELSE NULL END,
         0, ?3, ?3
       FROM record_activities parent
       JOIN activities c ON c.parent_id = parent.activity_id
       WHERE parent.id IN (SELECT value FROM json_each(?1)) AND parent.state = 'done'
         -- Of the branches of a split, only the one this scenario record takes.
         AND (c."on" IS NOT 'split' OR c.id = json_extract(?4, '$."' || parent.id || '"'))
       RETURNING shard, CASE WHEN state = 'waiting' THEN at END AS at`,
    )
    .bind(doneIds, due, now, branches);
}

/**
 * When an `email_not_X` (or `record_not_changed`, `subscription_not_confirmed`) activity has run, its waiting `email_X`
 * (`record_changed`, `subscription_confirmed`) siblings will never be due: cancel them. `doneIds` in JSON.
 */
export function cancelEventSiblings(d1: D1Database, doneIds: string, now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?2, updated_at = ?2,
         reason = 'its "not" sibling ran: the event did not happen in time'
       WHERE state = 'waiting' AND id IN (
         SELECT sib.id FROM record_activities x
         JOIN activities xa ON xa.id = x.activity_id
           AND xa."on" IN ('email_not_opened', 'email_not_clicked', 'record_not_changed', 'subscription_not_confirmed')
         JOIN activities sa ON sa.parent_id = xa.parent_id
           AND sa."on" = CASE xa."on" WHEN 'email_not_opened' THEN 'email_opened' WHEN 'email_not_clicked' THEN 'email_clicked'
                         WHEN 'record_not_changed' THEN 'record_changed' ELSE 'subscription_confirmed' END
         JOIN record_activities sib ON sib.scenario_record_id = x.scenario_record_id AND sib.activity_id = sa.id
         WHERE x.id IN (SELECT value FROM json_each(?1)) AND x.state = 'done')`,
    )
    .bind(doneIds, now);
}

/** The e-mails `sent` that the engine heard sent, archived on their record activity's row as `abandoned`: now `sent`. */
export function markArchivedEmailsSent(d1: D1Database, sent: number[], now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET email_status = 'sent', email_error = NULL,
             email_sent_at = coalesce(email_sent_at, ?2)
           WHERE id IN (SELECT value FROM json_each(?1)) AND email_status = 'abandoned'`,
    )
    .bind(JSON.stringify(sent), now);
}
