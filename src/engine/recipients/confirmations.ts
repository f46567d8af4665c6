import { RUNNING } from "../../db/claims";
import { takePage } from "../../db/page";
import { shardOf } from "../../db/shards";
import { shiftBy } from "../../domain/duration";
import { emailOfRecordActivity } from "../../email/of-record-activity";
import type { Engine } from "../ports";
import { cancelNotConfirmedOnConfirmation, makeConfirmedChildrenDue } from "../record-activities/transitions";
import { getScenarioRow } from "../scenarios/scenarios";

/**
 * Where a recipient's subscription to a scenario stands (double opt-in):
 * - `none`: no confirmation e-mail went to this scenario record, so there is nothing to confirm;
 * - `pending`: the confirmation e-mail went out and waits for the recipient;
 * - `confirmed`: the recipient confirmed (once, ever);
 * - `expired`: the `subscription_not_confirmed` branch ran first: nothing proceeds any more.
 */
export type SubscriptionState = "none" | "pending" | "confirmed" | "expired";

export interface Subscription {
  scenarioRecordId: number;
  scenarioId: number;
  scenarioName: string;
  partyId: string | null;
  /** The party's `lang` field, for the page's language. */
  lang: unknown;
  state: SubscriptionState;
  confirmedAt: number | null;
  /** The latest confirmation e-mail's record activity, archive row and delivery time (for the hit's timing rule). */
  recordActivityId: number | null;
  activityId: number | null;
  emailId: number | null;
  sentAt: number | null;
  /**
   * The confirmation e-mail's record activity is running and has no archive row yet: its e-mail is being delivered
   * (its row is inserted once the transport answered, docs/email.md), so it has no send time yet.
   */
  beingSent: boolean;
}

/** Activities whose children wait for the confirmation: confirmation e-mails. */
const CONFIRMATION_ACTIVITY = `EXISTS (SELECT 1 FROM activities c WHERE c.parent_id = ra.activity_id
  AND c."on" IN ('subscription_confirmed', 'subscription_not_confirmed'))`;

/** The e-mails `m` of the record activity `ra`. */
const OF_RA = emailOfRecordActivity("m", (c) => `${c} = ra.id`);

/**
 * SQL: the id of the record activity `ra`'s latest e-mail. A later attempt is an `emails` row (its id from the
 * sequence is above the first attempt's); the first attempt is that or, archived on the record activity's row, has
 * its id. Two lookups by index, where an ordered read of the `email_archive` view in a subquery would read it all.
 */
const LATEST_EMAIL = `COALESCE((SELECT m.id FROM emails m WHERE ${OF_RA} ORDER BY m.id DESC LIMIT 1),
  (SELECT r.id FROM record_activities r WHERE r.id = ra.id AND r.email_status IS NOT NULL))`;

/** The not-confirmed branch ran, or is running now: too late to confirm. */
const EXPIRED = `EXISTS (SELECT 1 FROM record_activities x JOIN activities xa ON xa.id = x.activity_id
  WHERE x.scenario_record_id = sr.id AND xa."on" = 'subscription_not_confirmed' AND (x.state = 'done' OR ${RUNNING("x")}))`;

/**
 * The subscription behind a recipient's token (the scenario record's id and the secret half as its row stores it, see
 * `tokenToMatch`); null when the token matches no scenario record.
 */
export async function subscriptionOf(e: Engine, token: { id: number; secret: string }): Promise<Subscription | null> {
  const row = await e.d1
    .prepare(
      `SELECT sr.id, sr.scenario_id, sr.party_id, s.name AS scenario_name, json_extract(p.fields, '$.lang') AS lang,
              sc.confirmed_at, ${EXPIRED} AS expired, ra.id AS ra_id, ra.activity_id, CASE WHEN ${RUNNING("ra")} THEN 'running' ELSE ra.state END AS ra_state,
              (SELECT m.id FROM email_archive m WHERE m.id = ${LATEST_EMAIL}) AS email_id,
              (SELECT m.sent_at FROM email_archive m WHERE m.id = ${LATEST_EMAIL}) AS sent_at
       FROM scenario_records sr
       JOIN scenarios s ON s.id = sr.scenario_id
       LEFT JOIN records p ON p.model = 'party' AND p.id = sr.party_id
       LEFT JOIN subscription_confirmations sc ON sc.scenario_record_id = sr.id
       LEFT JOIN record_activities ra ON ra.id = (
         SELECT ra.id FROM record_activities ra
         WHERE ra.scenario_record_id = sr.id AND (ra.state = 'done' OR ${RUNNING("ra")}) AND ${CONFIRMATION_ACTIVITY}
         ORDER BY ra.id DESC LIMIT 1)
       WHERE sr.id = ?1 AND sr.token = ?2`,
    )
    .bind(token.id, token.secret)
    .first<{
      id: number;
      scenario_id: number;
      party_id: string | null;
      scenario_name: string;
      lang: unknown;
      confirmed_at: number | null;
      expired: number;
      ra_id: number | null;
      ra_state: string | null;
      activity_id: number | null;
      email_id: number | null;
      sent_at: number | null;
    }>();
  if (!row) return null;
  const state: SubscriptionState =
    row.confirmed_at !== null ? "confirmed" : row.ra_id === null ? "none" : row.expired ? "expired" : "pending";
  return {
    scenarioRecordId: row.id,
    scenarioId: row.scenario_id,
    scenarioName: row.scenario_name,
    partyId: row.party_id,
    lang: row.lang,
    state,
    confirmedAt: row.confirmed_at,
    recordActivityId: row.ra_id,
    activityId: row.activity_id,
    emailId: row.email_id,
    sentAt: row.sent_at,
    beingSent: row.ra_state === "running" && row.email_id === null,
  };
}

/**
 * Records the recipient's confirmation of its subscription (the confirmation page's POST by a person): the
 * confirmation is stored once (party, scenario, time, client), the scenario record's waiting `subscription_confirmed`
 * record activities become due at now + their delay, and its waiting `subscription_not_confirmed` ones are cancelled.
 * Too late (the not-confirmed branch ran) changes nothing. Repeating it changes nothing. One D1 batch; each statement
 * is conditional on the stored confirmation, so a confirmation that arrives while the confirmation e-mail is still
 * being sent is picked up when its children are created (see commit.ts, `createChildrenOfDone`).
 */
export async function confirmSubscription(
  e: Engine,
  sub: Pick<Subscription, "scenarioRecordId" | "scenarioId" | "partyId">,
  client: string | null,
): Promise<{ changed: boolean; state: SubscriptionState }> {
  const now = Date.now();
  const { results: children } = await e.d1
    .prepare(`SELECT id, delay FROM activities WHERE scenario_id = ? AND "on" = 'subscription_confirmed'`)
    .bind(sub.scenarioId)
    .all<{ id: number; delay: string | null }>();
  const due: Record<string, number> = {};
  for (const c of children) due[c.id] = shiftBy(now, c.delay);
  const [inserted, madeDue] = await e.d1.batch([
    e.d1
      .prepare(
        `INSERT OR IGNORE INTO subscription_confirmations (scenario_record_id, scenario_id, party_id, client, confirmed_at)
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (
           SELECT 1 FROM record_activities x JOIN activities xa ON xa.id = x.activity_id
           WHERE x.scenario_record_id = ?1 AND xa."on" = 'subscription_not_confirmed' AND (x.state = 'done' OR ${RUNNING("x")}))`,
      )
      .bind(sub.scenarioRecordId, sub.scenarioId, sub.partyId, client, now),
    makeConfirmedChildrenDue(e.d1, {
      scenarioRecordId: sub.scenarioRecordId,
      due,
      now,
      activityIds: children.map((c) => c.id),
    }),
    cancelNotConfirmedOnConfirmation(e.d1, { scenarioRecordId: sub.scenarioRecordId, now, scenarioId: sub.scenarioId }),
  ]);
  const changed = (inserted?.meta.changes ?? 0) > 0;
  const dueTimes = ((madeDue?.results ?? []) as { at: number }[]).map((r) => r.at);
  if (dueTimes.length > 0) await e.wake([{ shard: shardOf(sub.scenarioRecordId), at: Math.min(...dueTimes) }]);
  if (changed) return { changed, state: "confirmed" };
  const already = await e.d1
    .prepare("SELECT 1 AS x FROM subscription_confirmations WHERE scenario_record_id = ?")
    .bind(sub.scenarioRecordId)
    .first();
  return { changed: false, state: already ? "confirmed" : "expired" };
}

export interface ConfirmationRow {
  scenarioRecordId: number;
  recordId: string;
  partyId: string | null;
  client: string | null;
  confirmedAt: number;
}

/** The scenario's confirmed subscriptions, for audit: who confirmed, when, from what client; by scenario record id. */
export async function listConfirmations(
  e: Engine,
  scenarioId: number,
  page: { limit: number; cursor: number | null },
): Promise<{ items: ConfirmationRow[]; nextCursor: number | null }> {
  await getScenarioRow(e, scenarioId);
  const { results } = await e.d1
    .prepare(
      `SELECT sc.scenario_record_id, sr.record_id, sc.party_id, sc.client, sc.confirmed_at
       FROM subscription_confirmations sc JOIN scenario_records sr ON sr.id = sc.scenario_record_id
       WHERE sc.scenario_id = ?1 AND sc.scenario_record_id > ?2
       ORDER BY sc.scenario_record_id LIMIT ?3`,
    )
    .bind(scenarioId, page.cursor ?? 0, page.limit + 1)
    .all<{
      scenario_record_id: number;
      record_id: string;
      party_id: string | null;
      client: string | null;
      confirmed_at: number;
    }>();
  const rows = results.map((r) => ({
    scenarioRecordId: r.scenario_record_id,
    recordId: r.record_id,
    partyId: r.party_id,
    client: r.client,
    confirmedAt: r.confirmed_at,
  }));
  return takePage(rows, page.limit, (r) => r.scenarioRecordId);
}
