import { reconcileAbandoned } from "../email/archive";
import { CLAIM_TIMEOUT_MS } from "../engine/execute";
import type { Bindings } from "../env";
import { wakeAllShards } from "./client";

/**
 * The safety net, run by the minute cron: every shard wakes now, executes anything overdue (a lost alarm, a claim
 * whose Worker died) and re-arms from D1. Safe to run twice: execution claims are atomic.
 */
export async function sweep(env: Bindings): Promise<void> {
  await wakeAllShards(env, Date.now());
  try {
    const abandoned = await reconcileAbandoned(env.DB, Date.now(), CLAIM_TIMEOUT_MS);
    if (abandoned > 0) console.log(`sweep: ${abandoned} e-mails left sending by a stopped Worker marked abandoned`);
  } catch (err) {
    console.error("sweep: reconciling e-mails left sending failed; the next sweep tries again", err);
  }
}
