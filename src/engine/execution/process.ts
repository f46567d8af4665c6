import type { Engine } from "../ports";
import { CLAIM_BATCH } from "./claim";
import { noCounts, type ProcessCounts, processDue } from "./execute";

/** How long one call (an alarm, or `POST /api/jobs/process`) keeps executing before it stops and says `more`. */
export const PROCESS_BUDGET_MS = 15_000;
/**
 * Record activities one call executes at most: each e-mail or webhook may cost a subrequest, and a Worker invocation
 * may make 1,000 (D1 queries included). A fresh alarm, or a fresh request, is a fresh invocation.
 */
export const MAX_EXECUTIONS_PER_CALL = 600;

/**
 * The one process loop, shared by the Scheduler's alarm (one shard) and `POST /api/jobs/process` (every shard):
 * claims and executes batches until nothing is due, the time budget is spent or the per-call limit is reached.
 * `more` says whether work may be left (the caller re-arms, or calls again).
 */
export async function processUntilIdle(
  e: Engine,
  opts: { shard?: number; budgetMs?: number; maxExecutions?: number } = {},
): Promise<ProcessCounts & { more: boolean }> {
  const budgetMs = opts.budgetMs ?? PROCESS_BUDGET_MS;
  const maxExecutions = opts.maxExecutions ?? MAX_EXECUTIONS_PER_CALL;
  const started = Date.now();
  const total = noCounts();
  let more = true;
  while (more && Date.now() - started < budgetMs && total.claimed < maxExecutions) {
    const step = await processDue(e, {
      shard: opts.shard,
      limit: Math.min(CLAIM_BATCH, maxExecutions - total.claimed),
    });
    for (const k of Object.keys(total) as (keyof ProcessCounts)[]) total[k] += step[k];
    more = step.more;
  }
  return { ...total, more };
}
