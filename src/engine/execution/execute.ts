import { randomHex } from "../../ids";
import { errorMessage, parseActionSettings } from "../action";
import type { ActionJob, ActionOutcome, Engine } from "../ports";
import { CLAIM_BATCH, type Claimed, claim } from "./claim";
import { commitClaim, type Settlement } from "./commit";
import { type DueJob, loadDueJobs } from "./due";
import { GATES } from "./gates";

export { PAUSED } from "../record-activities/due";
export { CLAIM_BATCH, CLAIM_TIMEOUT_MS } from "./claim";

/** Delivery attempts before a fault that "may pass" is treated as permanent. */
export const MAX_ATTEMPTS = 5;

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
  deferred: number;
}

export const noCounts = (): ProcessCounts => ({
  claimed: 0,
  done: 0,
  cancelled: 0,
  failed: 0,
  retried: 0,
  deferred: 0,
});

/**
 * Claims what is due (in one shard, or everywhere) and executes it: at most `limit` record activities, each exactly
 * once. Returns the counts and whether more may be due.
 */
export async function processDue(
  e: Engine,
  opts: { shard?: number; limit?: number } = {},
): Promise<ProcessCounts & { more: boolean }> {
  const limit = opts.limit ?? CLAIM_BATCH;
  const now = Date.now();
  const claimKey = randomHex(12);
  // Remembered before it is taken: a crash at any point after leaves a claim the next instance recovers at once.
  e.journal?.claimed(claimKey);
  const { claimed, healed } = await claim(e.d1, { claimKey, now, limit, shard: opts.shard });
  const counts = noCounts();
  counts.claimed = claimed.length;
  // Rows parked by the claim's repair may have hidden due ones behind them: look again.
  if (claimed.length === 0) {
    e.journal?.settled(claimKey);
    return { ...counts, more: healed > 0 };
  }
  try {
    const settlements = await execute(e, claimKey, claimed, now);
    // `at` of what is done is when it finished (after the e-mail went out), and children are due from then.
    await commitClaim(e, claimKey, claimed, settlements, Date.now());
    e.journal?.settled(claimKey);
    return { ...tally(counts, settlements), more: claimed.length === limit || healed > 0 };
  } catch (err) {
    // Not settled (D1 failed mid-way, say): the next call recovers the claim at once, as if its holder had died.
    e.journal?.orphaned(claimKey);
    throw err;
  }
}

function tally(counts: ProcessCounts, settlements: Settlement[]): ProcessCounts {
  for (const s of settlements) {
    if (s.state === "waiting") {
      if (s.uncount) counts.deferred++;
      else counts.retried++;
    } else counts[s.state]++;
  }
  return counts;
}

/** Gates first (in order), then each action for its jobs in one batch, the batches concurrently; every claimed row gets its settlement. */
async function execute(e: Engine, claimKey: string, claimed: Claimed[], now: number): Promise<Settlement[]> {
  const { jobs, gone } = await loadDueJobs(e, claimed);
  const outcomes = new Map<number, ActionOutcome>();
  for (const [id, reason] of gone) outcomes.set(id, { status: "cancelled", reason });
  // Past the last attempt only when the Workers of the earlier ones died before settling them (a takeover counts the
  // dead attempt): a record activity that stops its Worker every time is not run again.
  for (const c of claimed) {
    if (c.attempts > MAX_ATTEMPTS && !outcomes.has(c.id)) {
      outcomes.set(c.id, {
        status: "failed",
        error: `gave up after ${c.attempts - 1} attempts: the Worker executing it stopped before it finished`,
      });
    }
  }

  let open = jobs.filter((j) => !outcomes.has(j.claimed.id));
  for (const gate of GATES) {
    if (open.length === 0) break;
    const settled = await gate.check(open, { engine: e, now });
    for (const [id, outcome] of settled) outcomes.set(id, outcome);
    open = open.filter((j) => !settled.has(j.claimed.id));
  }

  const byAction = new Map<string, { due: DueJob; job: ActionJob<unknown> }[]>();
  for (const due of open) {
    const name = due.activity.action;
    if (name === null) {
      outcomes.set(due.claimed.id, { status: "done" });
      continue;
    }
    const action = e.actions.get(name);
    if (!action) {
      outcomes.set(due.claimed.id, { status: "failed", error: `unknown action "${name}"` });
      continue;
    }
    let settings: unknown;
    try {
      settings = parseActionSettings(action, {
        settings: due.activity.settings === null ? null : JSON.parse(due.activity.settings),
        emailFrom: due.activity.email_from,
        emailTitle: due.activity.email_title,
        emailTemplate: due.activity.email_template,
        emailTranslations:
          due.activity.email_translations === null ? null : JSON.parse(due.activity.email_translations),
      });
    } catch (err) {
      outcomes.set(due.claimed.id, {
        status: "failed",
        error: `the activity's settings are invalid: ${errorMessage(err)}`,
      });
      continue;
    }
    const job = { ...due.job, activity: { ...due.job.activity, settings } };
    const list = byAction.get(name);
    if (list) list.push({ due, job });
    else byAction.set(name, [{ due, job }]);
  }

  // Each action's batch runs at the same time as the others': a slow webhook receiver never holds up the e-mails.
  await Promise.all(
    [...byAction].map(async ([name, list]) => {
      const action = e.actions.get(name);
      if (!action) return;
      let results: ActionOutcome[];
      try {
        results = await action.execute(
          list.map((l) => l.job),
          { engine: e, now, claimKey },
        );
      } catch (err) {
        const outcome = action.onError?.(err) ?? { status: "retry", error: errorMessage(err), retryAfterMs: null };
        results = list.map(() => outcome);
      }
      list.forEach(({ due }, i) => {
        outcomes.set(
          due.claimed.id,
          results[i] ?? { status: "retry", error: `the action "${name}" gave no outcome`, retryAfterMs: null },
        );
      });
    }),
  );
  return claimed.map((c) => settle(c, outcomes.get(c.id) as ActionOutcome, now));
}

/** The engine's state machine for one outcome: retries with backoff up to MAX_ATTEMPTS, deferrals not counted. */
function settle(c: Claimed, o: ActionOutcome, now: number): Settlement {
  switch (o.status) {
    case "done":
      return o.emailId === undefined ? { id: c.id, state: "done" } : { id: c.id, state: "done", emailId: o.emailId };
    case "cancelled":
      return { id: c.id, state: "cancelled", reason: o.reason };
    case "failed":
      return { id: c.id, state: "failed", reason: o.error };
    case "deferred":
      return { id: c.id, state: "waiting", reason: o.reason, at: Math.max(o.until, now), uncount: true };
    case "retry":
      if (c.attempts >= MAX_ATTEMPTS) {
        return { id: c.id, state: "failed", reason: `gave up after ${c.attempts} attempts: ${o.error}` };
      }
      return {
        id: c.id,
        state: "waiting",
        reason: `retrying: ${o.error}`,
        at: now + retryDelay(c.attempts, o.retryAfterMs),
      };
  }
}
