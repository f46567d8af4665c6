/**
 * What happens to waiting record activities when something happens outside their run: an e-mail event, a record
 * written, a confirmation, a bounce make children due; a goal, an opt-out or the event that came make others
 * cancelled. Each transition touches only rows still waiting, so nothing done or cancelled comes back. The callers
 * (src/engine/reactions, src/engine/recipients) read, batch and wake; these are their statements.
 */

/** The reason of the record activities a goal cancels. */
export const GOAL_REACHED = "goal reached";

/** An e-mail event, recorded on the record activity that sent the e-mail (`?1`) once: the flag, and a click's time. */
export function setEmailEventFlag(d1: D1Database, recordActivityId: number, event: "opened" | "clicked", now: number) {
  const flags = event === "clicked" ? "email_opened = 1, email_clicked = 1, email_clicked_at = ?2" : "email_opened = 1";
  const flagUnset = event === "clicked" ? "email_clicked = 0" : "email_opened = 0";
  return d1
    .prepare(`UPDATE record_activities SET ${flags}, updated_at = ?2 WHERE id = ?1 AND ${flagUnset}`)
    .bind(recordActivityId, now);
}

/**
 * The waiting `email_X` children (`happened`: the `on`s) of a record activity's activity, in its scenario record,
 * become due at now + their delay (`due`: child activity id → due time).
 */
export function makeEventChildrenDue(
  d1: D1Database,
  o: { scenarioRecordId: number; activityId: number; now: number; due: Record<string, number>; happened: string[] },
) {
  return d1
    .prepare(
      `UPDATE record_activities
         SET at = json_extract(?4, '$."' || activity_id || '"'), due_at = json_extract(?4, '$."' || activity_id || '"'),
             reason = NULL, updated_at = ?3
         WHERE scenario_record_id = ?1 AND state = 'waiting' AND at IS NULL
           AND activity_id IN (SELECT id FROM activities WHERE parent_id = ?2
                               AND "on" IN (SELECT value FROM json_each(?5)))`,
    )
    .bind(o.scenarioRecordId, o.activityId, o.now, JSON.stringify(o.due), JSON.stringify(o.happened));
}

/** The waiting `email_not_X` children (`missed`: the `on`s) of a record activity's activity: cancelled, the event came. */
export function cancelMissedEventChildren(
  d1: D1Database,
  o: { scenarioRecordId: number; activityId: number; now: number; missed: string[] },
) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?3, updated_at = ?3,
           reason = CASE (SELECT "on" FROM activities WHERE id = activity_id)
                    WHEN 'email_not_opened' THEN 'the e-mail was opened' ELSE 'the e-mail was clicked' END
         WHERE scenario_record_id = ?1 AND state = 'waiting'
           AND activity_id IN (SELECT id FROM activities WHERE parent_id = ?2
                               AND "on" IN (SELECT value FROM json_each(?4)))`,
    )
    .bind(o.scenarioRecordId, o.activityId, o.now, JSON.stringify(o.missed));
}

/** The waiting record activities of scenario records that reached their scenario's goal: cancelled, "goal reached". */
export function cancelWaitingOnGoal(d1: D1Database, scenarioRecordIds: number[], now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', reason = '${GOAL_REACHED}', at = ?2, parked = 0, updated_at = ?2
         WHERE scenario_record_id IN (SELECT value FROM json_each(?1)) AND state = 'waiting'`,
    )
    .bind(JSON.stringify(scenarioRecordIds), now);
}

/**
 * Wait until: the `record_changed` record activities `ids` whose record changed as they wait for become due at now +
 * their delay (`due`: record activity id → due time), if they still wait without a due time. Returns the ids.
 */
export function makeRecordChangedDue(d1: D1Database, ids: number[], due: Record<string, number>, now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET at = json_extract(?2, '$."' || id || '"'), due_at = json_extract(?2, '$."' || id || '"'),
           reason = NULL, updated_at = ?3
         WHERE id IN (SELECT value FROM json_each(?1)) AND state = 'waiting' AND at IS NULL
         RETURNING id`,
    )
    .bind(JSON.stringify(ids), JSON.stringify(due), now);
}

/** The waiting `record_not_changed` siblings of the fired `record_changed` record activities `ids`: cancelled. */
export function cancelRecordNotChangedSiblings(d1: D1Database, ids: number[], now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?2, updated_at = ?2, reason = 'the record changed in time'
         WHERE state = 'waiting' AND id IN (
           SELECT sib.id FROM record_activities x
           JOIN activities xa ON xa.id = x.activity_id
           JOIN activities sa ON sa.parent_id = xa.parent_id AND sa."on" = 'record_not_changed'
           JOIN record_activities sib ON sib.scenario_record_id = x.scenario_record_id AND sib.activity_id = sa.id
           WHERE x.id IN (SELECT value FROM json_each(?1)))`,
    )
    .bind(JSON.stringify(ids), now);
}

/** SQL: the scenario record `?1`'s subscription is confirmed (stored): each confirmation transition is conditional on it. */
const CONFIRMED = "EXISTS (SELECT 1 FROM subscription_confirmations WHERE scenario_record_id = ?1)";

/**
 * The scenario record's waiting `subscription_confirmed` record activities (`activityIds`) become due at now + their
 * delay (`due`: activity id → due time), once the confirmation is stored. Returns their due times.
 */
export function makeConfirmedChildrenDue(
  d1: D1Database,
  o: { scenarioRecordId: number; due: Record<string, number>; now: number; activityIds: number[] },
) {
  return d1
    .prepare(
      `UPDATE record_activities
         SET at = json_extract(?2, '$."' || activity_id || '"'), due_at = json_extract(?2, '$."' || activity_id || '"'),
             reason = NULL, updated_at = ?3
         WHERE scenario_record_id = ?1 AND state = 'waiting' AND at IS NULL AND ${CONFIRMED}
           AND activity_id IN (SELECT value FROM json_each(?4))
         RETURNING at`,
    )
    .bind(o.scenarioRecordId, JSON.stringify(o.due), o.now, JSON.stringify(o.activityIds));
}

/** The scenario record's waiting `subscription_not_confirmed` record activities, once the confirmation is stored: cancelled. */
export function cancelNotConfirmedOnConfirmation(
  d1: D1Database,
  o: { scenarioRecordId: number; now: number; scenarioId: number },
) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?2, updated_at = ?2,
           reason = 'the subscription was confirmed'
         WHERE scenario_record_id = ?1 AND state = 'waiting' AND ${CONFIRMED}
           AND activity_id IN (SELECT id FROM activities WHERE scenario_id = ?3 AND "on" = 'subscription_not_confirmed')`,
    )
    .bind(o.scenarioRecordId, o.now, o.scenarioId);
}

/**
 * The waiting `email_bounced` children of the e-mails a batch of delivery events hit, for the events of `kinds`
 * (hard bounces, rejections), become due at now + their delay (`due`: activity id → due time). `recorded`: SQL, the
 * `delivery_events` this batch recorded, over `?1` (the events in JSON) and `?2` (the batch's receipt). Returns their
 * shard and due time.
 */
export function makeBouncedChildrenDue(
  d1: D1Database,
  recorded: string,
  o: { events: string; receipt: string; now: number; due: Record<string, number>; kinds: string[] },
) {
  return d1
    .prepare(
      `UPDATE record_activities
         SET at = json_extract(?4, '$."' || activity_id || '"'), due_at = json_extract(?4, '$."' || activity_id || '"'),
             reason = NULL, updated_at = ?3
         WHERE state = 'waiting' AND at IS NULL AND id IN (
           SELECT child.id FROM (${recorded}) AS d
           JOIN record_activities parent ON parent.id = d.record_activity_id
           JOIN activities c ON c.parent_id = parent.activity_id AND c."on" = 'email_bounced'
           JOIN record_activities child ON child.scenario_record_id = parent.scenario_record_id
             AND child.activity_id = c.id
           WHERE d.kind IN (SELECT value FROM json_each(?5)))
         RETURNING shard, at`,
    )
    .bind(o.events, o.receipt, o.now, JSON.stringify(o.due), JSON.stringify(o.kinds));
}

/**
 * Cancels the party's waiting record activities in scenarios tagged with a topic it opted out of, naming the topic.
 * Reads the party's records through (model, party) and their scenario records through (scenario, model, record).
 */
export function cancelOptedOut(d1: D1Database, partyId: string, now: number) {
  return d1
    .prepare(
      `UPDATE record_activities
       SET state = 'cancelled', reason = x.reason, at = ?2, updated_at = ?2, parked = 0
       FROM (SELECT sr.id AS scenario_record_id,
                    'the recipient opted out of the topic "' || min(t.name) || '"' AS reason
             FROM topic_opt_outs o
             JOIN scenario_topics st ON o.topic_id = st.topic_id OR o.topic_id = '*'
             JOIN topics t ON t.id = st.topic_id
             JOIN scenarios s ON s.id = st.scenario_id
             JOIN records r ON r.model = s.model AND r.party_id = ?1
             JOIN scenario_records sr ON sr.scenario_id = s.id AND sr.model = r.model AND sr.record_id = r.id
             WHERE o.party_id = ?1
             GROUP BY sr.id) AS x
       WHERE record_activities.scenario_record_id = x.scenario_record_id AND record_activities.state = 'waiting'`,
    )
    .bind(partyId, now);
}
