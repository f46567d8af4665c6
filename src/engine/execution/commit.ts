import { STILL_CLAIMED } from "../../db/claims";
import { shiftBy } from "../../domain/duration";
import { emailOfRecordActivity, inJsonIds } from "../../email/of-record-activity";
import { ABANDONED_UNRECORDED, archiveStagedOfClaim } from "../../email/staged";
import type { Engine, WakeTime } from "../ports";
import { recordChangedCreated } from "../reactions/wait-until";
import {
  cancelEventSiblings,
  commitSettlements,
  createChildrenOfDone,
  markArchivedEmailsSent,
  type SettledRow,
} from "../record-activities/execution";
import type { Claimed } from "./claim";
import { pickBranch } from "./split";

/** What becomes of a claimed record activity: its new state. `uncount`: the attempt is not counted (deferred). */
export type Settlement =
  | { id: number; state: "done"; emailId?: number }
  | { id: number; state: "cancelled" | "failed"; reason: string }
  | { id: number; state: "waiting"; reason: string; at: number; uncount?: boolean };

/**
 * Writes the settlements back in one D1 batch (a transaction): states, children of what is done, and the `email_X`
 * siblings cancelled by an `email_not_X` that ran. Only rows still held by this claim are touched (`STILL_CLAIMED`:
 * a cancellation or a takeover meanwhile wins); this is where their row is written, and the attempt counted. Then wakes
 * the scheduler for what became due.
 */
export async function commitClaim(
  e: Engine,
  claimKey: string,
  claimed: Claimed[],
  settlements: Settlement[],
  now: number,
): Promise<void> {
  const doneIds = settlements.filter((o) => o.state === "done").map((o) => o.id);
  const children = doneIds.length > 0 ? await childrenOf(e.d1, claimed, doneIds) : [];
  const due: Record<string, number> = {};
  for (const child of children) due[child.id] = shiftBy(now, child.delay);
  const branches = chooseBranches(claimed, doneIds, children);
  const rows: SettledRow[] = settlements.map((o) => ({
    id: o.id,
    state: o.state,
    reason: "reason" in o ? o.reason : null,
    at: o.state === "waiting" ? o.at : now,
    uncount: o.state === "waiting" && o.uncount ? 1 : 0,
    emailed: o.state === "done" && o.emailId !== undefined ? 1 : 0,
  }));
  const statements: D1PreparedStatement[] = [];
  // Done ones counted on their activity's row, and for reports on its day, before the update below makes them done
  // (same transaction, same guard): one row written an activity a batch, where a row trigger would write one a record
  // activity.
  if (doneIds.length > 0) {
    statements.push(
      e.d1
        .prepare(
          `UPDATE activities SET count_done = count_done + c.n, count_waiting = count_waiting - c.n
         FROM (SELECT ra.activity_id, count(*) AS n FROM record_activities ra
               WHERE ra.id IN (SELECT value FROM json_each(?1)) AND ${STILL_CLAIMED("ra", "?2")}
               GROUP BY ra.activity_id) AS c
         WHERE activities.id = c.activity_id`,
        )
        .bind(JSON.stringify(doneIds), claimKey),
      countDoneByDay(e.d1, doneIds, claimKey, now),
    );
  }
  // The one write of each record activity, which archives its first attempt's e-mail (staged in the claim) on it too.
  const sent = settlements.flatMap((s) => (s.state === "done" && s.emailId !== undefined ? [s.emailId] : []));
  statements.push(commitSettlements(e.d1, { claimKey, rows, sent, now }));
  statements.push(...settleSendingEmails(e.d1, claimKey, claimed, settlements, now));
  statements.push(e.d1.prepare("DELETE FROM claims WHERE key = ?").bind(claimKey));
  let childrenAt = -1;
  if (doneIds.length > 0) {
    const done = JSON.stringify(doneIds);
    childrenAt = statements.length;
    statements.push(createChildrenOfDone(e.d1, done, JSON.stringify(due), JSON.stringify(branches), now));
    statements.push(countWaitingChildren(e.d1, done, now));
    statements.push(cancelEventSiblings(e.d1, done, now));
  }
  const results = await e.d1.batch<{ shard: number; at: number | null }>(statements);
  // A wait-until child with a condition the record already meets does not wait for the next write.
  if (children.some((c) => c.on === "record_changed")) {
    const done = new Set(doneIds);
    await recordChangedCreated(
      e,
      claimed.filter((c) => done.has(c.id)).map((c) => c.scenario_record_id),
      now,
    );
  }

  // Wake-ups: what goes back to waiting, and every child created due, as the insert returned it (a timed child, a
  // split's branch, and an event child whose event already came while the e-mail was being sent).
  const wake: WakeTime[] = [];
  const claimOf = new Map(claimed.map((c) => [c.id, c]));
  for (const o of settlements) {
    if (o.state === "waiting") wake.push({ shard: (claimOf.get(o.id) as Claimed).shard, at: o.at });
  }
  for (const child of childrenAt >= 0 ? (results[childrenAt]?.results ?? []) : []) {
    if (child.at !== null) wake.push({ shard: child.shard, at: child.at });
  }
  if (wake.length > 0) await e.wake(wake);
}

/**
 * The done ones counted for reports on their activity's day (`activity_days`, the UTC day of `now`, which becomes their
 * `at`), with the opens and clicks they already carry (an event that came while the e-mail was being sent): one row
 * written an activity a batch, and no index entry a record activity. Same guard as `count_done`'s statement (the rows
 * still held by this claim, read before the update that makes them done), so a commit that lost its claim adds nothing.
 * Later opens and clicks of done rows are added by the `record_activities_count_update` trigger.
 */
function countDoneByDay(d1: D1Database, doneIds: number[], claimKey: string, now: number) {
  return d1
    .prepare(
      `INSERT INTO activity_days (activity_id, day, done, opened, clicked)
       SELECT ra.activity_id, strftime('%Y-%m-%d', ?3 / 1000, 'unixepoch'), count(*), coalesce(sum(ra.email_opened), 0),
         coalesce(sum(ra.email_clicked), 0)
       FROM record_activities ra
       WHERE ra.id IN (SELECT value FROM json_each(?1)) AND ${STILL_CLAIMED("ra", "?2")}
       GROUP BY ra.activity_id
       ON CONFLICT (activity_id, day) DO UPDATE SET done = done + excluded.done, opened = opened + excluded.opened,
         clicked = clicked + excluded.clicked`,
    )
    .bind(JSON.stringify(doneIds), claimKey, now);
}

interface Child {
  id: number;
  parent_id: number;
  on: string | null;
  delay: string | null;
  weight: number | null;
}

async function childrenOf(d1: D1Database, claimed: Claimed[], doneIds: number[]): Promise<Child[]> {
  const done = new Set(doneIds);
  const parents = [...new Set(claimed.filter((c) => done.has(c.id)).map((c) => c.activity_id))];
  const { results } = await d1
    .prepare(
      `SELECT id, parent_id, "on", delay, weight FROM activities WHERE parent_id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify(parents))
    .all<Child>();
  return results;
}

/** For each done record activity whose activity has split branches: the branch its scenario record takes. */
function chooseBranches(claimed: Claimed[], doneIds: number[], children: Child[]): Record<string, number> {
  const chosen: Record<string, number> = {};
  const done = new Set(doneIds);
  for (const c of claimed) {
    if (!done.has(c.id)) continue;
    const branches = children.filter((ch) => ch.parent_id === c.activity_id && ch.on === "split");
    const branch = branches.length > 0 ? pickBranch(branches, c.scenario_record_id, c.activity_id) : null;
    if (branch) chosen[String(c.id)] = branch.id;
  }
  return chosen;
}

/**
 * The waiting children the statement before created, counted on their activities' rows: they are the children of
 * these parents created at `now` (a child exists once, so none of them was there before this commit).
 */
function countWaitingChildren(d1: D1Database, doneIds: string, now: number) {
  return d1
    .prepare(
      `UPDATE activities SET count_waiting = count_waiting + c.n
       FROM (SELECT ra.activity_id, count(*) AS n FROM record_activities parent
             JOIN activities a ON a.parent_id = parent.activity_id
             JOIN record_activities ra ON ra.scenario_record_id = parent.scenario_record_id AND ra.activity_id = a.id
             WHERE parent.id IN (SELECT value FROM json_each(?1)) AND ra.created_at = ?2 AND ra.state = 'waiting'
             GROUP BY ra.activity_id) AS c
       WHERE activities.id = c.activity_id`,
    )
    .bind(doneIds, now);
}

/**
 * The archive's half of the no-orphan rule, in the commit's transaction after its update of the record activities
 * (which archived the staged first attempts on their rows), before the claims rows go: what this claim staged and is
 * not archived yet (later attempts, or rows a takeover left) is archived with its outcome, or `sent` when the engine
 * heard "sent", else `abandoned`. Rows still `sending` (archived that way: before staging existed, or not staged) are
 * settled the same way, or, when a dead Worker's claim left them behind, `abandoned`. Nothing is written when the
 * deliveries were archived, which is the rule; the e-mails are found through the claim's rows, by id or their record
 * activity's index.
 */
function settleSendingEmails(
  d1: D1Database,
  claimKey: string,
  claimed: Claimed[],
  settlements: Settlement[],
  now: number,
) {
  const sent = settlements.flatMap((s) => (s.state === "done" && s.emailId !== undefined ? [s.emailId] : []));
  const ids = JSON.stringify(claimed.map((c) => c.id));
  const statements: D1PreparedStatement[] = archiveStagedOfClaim(d1, claimKey, sent, now);
  if (sent.length > 0) {
    statements.push(
      d1
        .prepare(
          // `abandoned` too: a takeover archives a lapsed claim's staged rows so, and this Worker was only slow.
          `UPDATE emails SET status = 'sent', error = NULL, sent_at = coalesce(sent_at, ?2)
           WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('sending', 'abandoned')`,
        )
        .bind(JSON.stringify(sent), now),
      markArchivedEmailsSent(d1, sent, now),
    );
  }
  statements.push(
    d1
      .prepare(
        `UPDATE emails SET status = 'abandoned', error = ?3
         WHERE ${emailOfRecordActivity("emails", inJsonIds("?1"))} AND status = 'sending'
           AND id NOT IN (SELECT value FROM json_each(?2))`,
      )
      .bind(ids, JSON.stringify(sent), ABANDONED_UNRECORDED),
  );
  return statements;
}
