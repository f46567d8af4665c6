import { shiftBy } from "../domain/duration";
import type { Domain } from "../domain/types";
import { normalizeAddress } from "../email/address";
import { randomHex, unsubscribeToken } from "../ids";
import { SHARD_COUNT, shardSql } from "../scheduler/shards";
import type { Engine } from "./context";
import type { EmailJob, Mailer, SendOutcome } from "./mailer";
import { scenarioRecordsMatching } from "./matching";
import { suppressedAmong, suppressedReason } from "./suppressions";

/** SQL: 1 when the record activity (aliased `row`) cannot run now — its scenario is not running or its record is blocked. */
export const PAUSED = (row: string) =>
  `(coalesce((SELECT state != 'running' FROM scenarios WHERE id = ${row}.scenario_id), 1)
    OR coalesce((SELECT blocked FROM scenario_records WHERE id = ${row}.scenario_record_id), 1))`;

/** A claim not finished within this time is taken over: the Worker that held it is presumed dead. */
export const CLAIM_TIMEOUT_MS = 5 * 60_000;
/** Delivery attempts before a fault that "may pass" is treated as permanent. */
export const MAX_ATTEMPTS = 5;
/** Rows claimed at once; each claim's results are written back in one D1 batch. */
export const CLAIM_BATCH = 100;

/** Wait before retry `attempt` (1-based): 30 s, 2 min, 8 min, 32 min… never sooner than the provider asked. */
export function retryDelay(attempt: number, retryAfterMs: number | null): number {
  return Math.max(30_000 * 4 ** (attempt - 1), retryAfterMs ?? 0);
}

export interface ProcessCounts {
  claimed: number;
  done: number;
  cancelled: number;
  failed: number;
  retried: number;
}

interface Claimed {
  id: number;
  scenario_record_id: number;
  activity_id: number;
  scenario_id: number;
  shard: number;
  attempts: number;
}

interface Context {
  id: number;
  model: string;
  record_id: string;
  token: string;
  record_exists: number;
  record_fields: string | null;
  party_id: string | null;
  party_fields: string | null;
}

interface ActivityRow {
  id: number;
  scenario_id: number;
  parent_id: number | null;
  name: string;
  on: string | null;
  condition: string | null;
  delay: string | null;
  action: string | null;
  email_from: string | null;
  email_title: string | null;
  email_template: string | null;
}

type Outcome =
  | { id: number; state: "done" }
  | { id: number; state: "cancelled" | "failed"; reason: string }
  | { id: number; state: "waiting"; reason: string; at: number; deferred?: boolean };

/**
 * Claims what is due (in one shard, or everywhere) and executes it: at most `limit` record activities, each exactly
 * once. Returns the counts and whether more may be due.
 */
export async function processDue(
  e: Engine,
  mailer: Mailer,
  opts: { shard?: number; limit?: number } = {},
): Promise<ProcessCounts & { more: boolean }> {
  const limit = opts.limit ?? CLAIM_BATCH;
  const now = Date.now();
  const claimKey = randomHex(12);
  const { claimed, healed } = await claim(e.d1, { claimKey, now, limit, shard: opts.shard });
  const counts: ProcessCounts = { claimed: claimed.length, done: 0, cancelled: 0, failed: 0, retried: 0 };
  // Rows parked by the claim's repair may have hidden due ones behind them: look again.
  if (claimed.length === 0) return { ...counts, more: healed > 0 };
  const outcomes = await execute(e, mailer, claimed, now);
  // `at` of what is done is when it finished (after the e-mail went out), and children are due from then.
  await commit(e, claimKey, claimed, outcomes, Date.now());
  for (const o of outcomes) {
    if (o.state === "done") counts.done++;
    else if (o.state === "cancelled") counts.cancelled++;
    else if (o.state === "failed") counts.failed++;
    else counts.retried++;
  }
  return { ...counts, more: claimed.length === limit || healed > 0 };
}

/**
 * The atomic claim: one conditional UPDATE moves due rows from `waiting` (or from a lapsed `running` claim) to
 * `running` under this claim's key. SQLite runs the statement alone, so two claims never take the same row. Each
 * branch reads the due index in order and stops at `limit`: paused rows (`parked`) are not in its range, so a stopped
 * scenario's backlog costs nothing. Without a shard, the shards are claimed one after the other.
 */
async function claim(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number | undefined },
): Promise<{ claimed: Claimed[]; healed: number }> {
  if (o.shard !== undefined) return claimShard(d1, { ...o, shard: o.shard });
  const all = { claimed: [] as Claimed[], healed: 0 };
  for (let shard = 0; shard < SHARD_COUNT && all.claimed.length < o.limit; shard++) {
    const one = await claimShard(d1, { ...o, shard, limit: o.limit - all.claimed.length });
    all.claimed.push(...one.claimed);
    all.healed += one.healed;
  }
  return all;
}

/** SQL: the head of a shard's due index, `?1` shard, `?2` now, `?3` limit: waiting rows due, then lapsed claims. */
const DUE_HEAD = `
  SELECT * FROM (SELECT id, at FROM record_activities
                 WHERE shard = ?1 AND parked = 0 AND state = 'waiting' AND at <= ?2 ORDER BY at LIMIT ?3)
  UNION ALL
  SELECT * FROM (SELECT id, at FROM record_activities
                 WHERE shard = ?1 AND parked = 0 AND state = 'running' AND claimed_until <= ?2 LIMIT ?3)`;

async function claimShard(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number },
): Promise<{ claimed: Claimed[]; healed: number }> {
  const { results: claimed } = await d1
    .prepare(
      `UPDATE record_activities
       SET state = 'running', claim_key = ?4, claimed_until = ?5, attempts = attempts + 1, updated_at = ?2
       WHERE id IN (
         SELECT due.id FROM (${DUE_HEAD}) AS due
         JOIN record_activities ra ON ra.id = due.id
         JOIN scenarios s ON s.id = ra.scenario_id AND s.state = 'running'
         JOIN scenario_records sr ON sr.id = ra.scenario_record_id AND sr.blocked = 0
         ORDER BY due.at LIMIT ?3
       )
       RETURNING id, scenario_record_id, activity_id, scenario_id, shard, attempts`,
    )
    .bind(o.shard, o.now, o.limit, o.claimKey, o.now + CLAIM_TIMEOUT_MS)
    .all<Claimed>();
  if (claimed.length === o.limit) return { claimed, healed: 0 };
  // A short claim: rows at the head that cannot run (their scenario stopped, or their record was blocked, while a
  // pass or a transition was still writing them) may stand in front of rows that can. Parked now, they never will.
  const heal = await d1
    .prepare(
      `UPDATE record_activities SET parked = 1
       WHERE id IN (SELECT id FROM (${DUE_HEAD})) AND ${PAUSED("record_activities")}`,
    )
    .bind(o.shard, o.now, o.limit)
    .run();
  return { claimed, healed: heal.meta.changes ?? 0 };
}

async function execute(e: Engine, mailer: Mailer, claimed: Claimed[], now: number): Promise<Outcome[]> {
  const ids = JSON.stringify(claimed.map((c) => c.id));
  const activityIds = JSON.stringify([...new Set(claimed.map((c) => c.activity_id))]);
  const [contexts, activities, scenarios, alreadySent] = await e.d1.batch([
    e.d1
      .prepare(
        `SELECT ra.id, sr.model, sr.record_id, sr.token, (r.id IS NOT NULL) AS record_exists,
                r.fields AS record_fields, r.party_id AS party_id, p.fields AS party_fields
         FROM record_activities ra
         JOIN scenario_records sr ON sr.id = ra.scenario_record_id
         LEFT JOIN records r ON r.model = sr.model AND r.id = sr.record_id
         LEFT JOIN records p ON p.model = 'party' AND p.id = r.party_id
         WHERE ra.id IN (SELECT value FROM json_each(?1))`,
      )
      .bind(ids),
    e.d1.prepare("SELECT * FROM activities WHERE id IN (SELECT value FROM json_each(?1))").bind(activityIds),
    e.d1
      .prepare(
        "SELECT id, name FROM scenarios WHERE id IN (SELECT scenario_id FROM activities WHERE id IN (SELECT value FROM json_each(?1)))",
      )
      .bind(activityIds),
    // A claim taken over from a dead Worker may already have delivered its e-mail: never send it twice.
    e.d1
      .prepare(
        "SELECT DISTINCT record_activity_id AS id FROM emails WHERE status = 'sent' AND record_activity_id IN (SELECT value FROM json_each(?1))",
      )
      .bind(ids),
  ]);
  const contextById = new Map(((contexts?.results ?? []) as Context[]).map((c) => [c.id, c]));
  const activityById = new Map(((activities?.results ?? []) as ActivityRow[]).map((a) => [a.id, a]));
  const scenarioName = new Map(
    ((scenarios?.results ?? []) as { id: number; name: string }[]).map((s) => [s.id, s.name]),
  );
  const sent = new Set(((alreadySent?.results ?? []) as { id: number }[]).map((r) => r.id));

  const outcomes = new Map<number, Outcome>();
  const pending: Claimed[] = [];
  for (const c of claimed) {
    const ctx = contextById.get(c.id);
    const activity = activityById.get(c.activity_id);
    if (!ctx || !activity) {
      outcomes.set(c.id, { id: c.id, state: "cancelled", reason: "the activity was deleted" });
    } else if (!ctx.record_exists) {
      outcomes.set(c.id, { id: c.id, state: "cancelled", reason: "the record was deleted" });
    } else {
      pending.push(c);
    }
  }

  // Conditions are checked against the record as it is now, set-based: one query per activity with a condition.
  const byActivity = groupBy(pending, (c) => c.activity_id);
  for (const [activityId, rows] of byActivity) {
    const activity = activityById.get(activityId) as ActivityRow;
    if (activity.condition === null) continue;
    const model = (contextById.get((rows[0] as Claimed).id) as Context).model;
    try {
      const matching = await scenarioRecordsMatching(
        e.d1,
        model,
        JSON.parse(activity.condition) as Domain,
        rows.map((r) => r.scenario_record_id),
        now,
      );
      for (const r of rows) {
        if (!matching.has(r.scenario_record_id)) {
          outcomes.set(r.id, { id: r.id, state: "cancelled", reason: "the record does not match the condition" });
        }
      }
    } catch (err) {
      for (const r of rows) {
        outcomes.set(r.id, { id: r.id, state: "failed", reason: `the condition cannot be evaluated: ${message(err)}` });
      }
    }
  }

  // The suppression list, across all scenarios: an address on it is never sent to.
  const addressOf = new Map<number, string>();
  for (const c of pending) {
    if (outcomes.has(c.id) || activityById.get(c.activity_id)?.action !== "send_email" || sent.has(c.id)) continue;
    const fields = JSON.parse((contextById.get(c.id) as Context).party_fields ?? "{}") as Record<string, unknown>;
    const address = typeof fields.email === "string" ? normalizeAddress(fields.email) : null;
    if (address !== null) addressOf.set(c.id, address);
  }
  const suppressed = await suppressedAmong(e.d1, [...addressOf.values()]);
  for (const [id, address] of addressOf) {
    const reason = suppressed.get(address);
    if (reason) outcomes.set(id, { id, state: "cancelled", reason: suppressedReason(reason) });
  }

  const jobs: { claimed: Claimed; job: EmailJob }[] = [];
  for (const c of pending) {
    if (outcomes.has(c.id)) continue;
    const activity = activityById.get(c.activity_id) as ActivityRow;
    if (activity.action !== "send_email" || sent.has(c.id)) {
      outcomes.set(c.id, { id: c.id, state: "done" });
      continue;
    }
    const ctx = contextById.get(c.id) as Context;
    jobs.push({
      claimed: c,
      job: {
        recordActivityId: c.id,
        attempt: c.attempts,
        scenario: { id: c.scenario_id, name: scenarioName.get(c.scenario_id) ?? "" },
        activity: {
          id: activity.id,
          name: activity.name,
          emailFrom: activity.email_from,
          emailTitle: activity.email_title ?? "",
          emailTemplate: activity.email_template ?? "",
        },
        scenarioRecord: { id: c.scenario_record_id, token: unsubscribeToken(c.scenario_record_id, ctx.token) },
        record: { model: ctx.model, id: ctx.record_id, fields: JSON.parse(ctx.record_fields ?? "{}") },
        party:
          ctx.party_id !== null && ctx.party_fields !== null
            ? { id: ctx.party_id, fields: JSON.parse(ctx.party_fields) }
            : null,
      },
    });
  }
  if (jobs.length > 0) {
    let results: SendOutcome[];
    try {
      results = await mailer.sendBatch(
        jobs.map((j) => j.job),
        now,
      );
    } catch (err) {
      results = jobs.map(() => ({ status: "retry", error: message(err), retryAfterMs: null, emailId: null }));
    }
    jobs.forEach(({ claimed: c }, i) => {
      const r = results[i] as SendOutcome;
      if (r.status === "sent") outcomes.set(c.id, { id: c.id, state: "done" });
      else if (r.status === "deferred") {
        outcomes.set(c.id, { id: c.id, state: "waiting", reason: r.reason, at: r.until, deferred: true });
      } else if (r.status === "failed") outcomes.set(c.id, { id: c.id, state: "failed", reason: r.error });
      else if (c.attempts >= MAX_ATTEMPTS) {
        outcomes.set(c.id, { id: c.id, state: "failed", reason: `gave up after ${c.attempts} attempts: ${r.error}` });
      } else {
        const at = now + retryDelay(c.attempts, r.retryAfterMs);
        outcomes.set(c.id, { id: c.id, state: "waiting", reason: `retrying: ${r.error}`, at });
      }
    });
  }
  return claimed.map((c) => outcomes.get(c.id) as Outcome);
}

/**
 * Writes the outcomes back in one D1 batch (a transaction): states, children of what is done, and the `email_X`
 * siblings cancelled by an `email_not_X` that ran. Only rows still held by this claim are touched.
 */
async function commit(e: Engine, claimKey: string, claimed: Claimed[], outcomes: Outcome[], now: number) {
  const doneIds = outcomes.filter((o) => o.state === "done").map((o) => o.id);
  const children = doneIds.length > 0 ? await childrenOf(e.d1, claimed, doneIds) : [];
  const due: Record<string, number> = {};
  for (const child of children) due[child.id] = shiftBy(now, child.delay);
  const rows = outcomes.map((o) => ({
    id: o.id,
    state: o.state,
    reason: "reason" in o ? o.reason : null,
    at: o.state === "waiting" ? o.at : now,
    deferred: o.state === "waiting" && o.deferred === true ? 1 : 0,
  }));
  const statements = [
    e.d1
      .prepare(
        `UPDATE record_activities
         SET state = u.state, reason = u.reason, at = u.at,
             due_at = CASE WHEN u.state = 'waiting' THEN u.at ELSE record_activities.due_at END,
             parked = CASE WHEN u.state = 'waiting' THEN ${PAUSED("record_activities")} ELSE 0 END,
             attempts = record_activities.attempts - u.deferred,
             claim_key = NULL, claimed_until = NULL, updated_at = ?2
         FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.state') AS state,
                      json_extract(value, '$.reason') AS reason, json_extract(value, '$.at') AS at,
                      json_extract(value, '$.deferred') AS deferred
               FROM json_each(?1)) AS u
         WHERE record_activities.id = u.id AND record_activities.state = 'running' AND record_activities.claim_key = ?3`,
      )
      .bind(JSON.stringify(rows), now, claimKey),
  ];
  if (doneIds.length > 0) {
    const done = JSON.stringify(doneIds);
    statements.push(insertChildren(e.d1, done, JSON.stringify(due), now));
    statements.push(cancelEventSiblings(e.d1, done, now));
  }
  await e.d1.batch(statements);

  const wake: { shard: number; at: number }[] = [];
  const shardOfRow = new Map(claimed.map((c) => [c.id, c]));
  for (const o of outcomes) {
    const c = shardOfRow.get(o.id) as Claimed;
    if (o.state === "waiting") wake.push({ shard: c.shard, at: o.at });
    if (o.state === "done") {
      for (const child of children) {
        if (child.parent_id === c.activity_id && (child.on === null || child.on.startsWith("email_not_"))) {
          wake.push({ shard: c.shard, at: due[child.id] as number });
        }
      }
    }
  }
  if (wake.length > 0) await e.wake(wake);
}

async function childrenOf(d1: D1Database, claimed: Claimed[], doneIds: number[]) {
  const done = new Set(doneIds);
  const parents = [...new Set(claimed.filter((c) => done.has(c.id)).map((c) => c.activity_id))];
  const { results } = await d1
    .prepare(`SELECT id, parent_id, "on", delay FROM activities WHERE parent_id IN (SELECT value FROM json_each(?1))`)
    .bind(JSON.stringify(parents))
    .all<{ id: number; parent_id: number; on: string | null; delay: string | null }>();
  return results;
}

/**
 * A child of a done record activity: due at now + delay unless it waits for an event. The parent's flags are read in
 * the same statement, so an open or click that arrived while the e-mail was being sent is not lost.
 */
function insertChildren(d1: D1Database, doneIds: string, due: string, now: number) {
  const dueOf = `json_extract(?2, '$."' || c.id || '"')`;
  const eventHappened = `((c."on" = 'email_opened' AND parent.email_opened) OR (c."on" = 'email_clicked' AND parent.email_clicked))`;
  const eventMissed = `((c."on" = 'email_not_opened' AND parent.email_opened) OR (c."on" = 'email_not_clicked' AND parent.email_clicked))`;
  const timed = `(c."on" IS NULL OR c."on" IN ('email_not_opened', 'email_not_clicked'))`;
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
              WHEN c."on" = 'email_bounced' AND NOT ${bounced} THEN 'waiting for the e-mail to bounce'
              ELSE NULL END,
         0, ?3, ?3
       FROM record_activities parent
       JOIN activities c ON c.parent_id = parent.activity_id
       WHERE parent.id IN (SELECT value FROM json_each(?1)) AND parent.state = 'done'`,
    )
    .bind(doneIds, due, now);
}

/** When an `email_not_X` activity has run, its waiting `email_X` siblings will never be due: cancel them. */
function cancelEventSiblings(d1: D1Database, doneIds: string, now: number) {
  return d1
    .prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?2, updated_at = ?2,
         reason = 'its "not" sibling ran: the event did not happen in time'
       WHERE state = 'waiting' AND id IN (
         SELECT sib.id FROM record_activities x
         JOIN activities xa ON xa.id = x.activity_id AND xa."on" IN ('email_not_opened', 'email_not_clicked')
         JOIN activities sa ON sa.parent_id = xa.parent_id
           AND sa."on" = CASE xa."on" WHEN 'email_not_opened' THEN 'email_opened' ELSE 'email_clicked' END
         JOIN record_activities sib ON sib.scenario_record_id = x.scenario_record_id AND sib.activity_id = sa.id
         WHERE x.id IN (SELECT value FROM json_each(?1)) AND x.state = 'done')`,
    )
    .bind(doneIds, now);
}

function groupBy<T, K>(items: T[], key: (item: T) => K): Map<K, T[]> {
  const map = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = map.get(k);
    if (list) list.push(item);
    else map.set(k, [item]);
  }
  return map;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
