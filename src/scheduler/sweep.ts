import type { Bindings } from "../env";
import { wakeAllShards } from "./client";

/**
 * The safety net, run by the minute cron: every shard wakes now, executes anything overdue (a lost alarm, a claim
 * whose Worker died) and re-arms from D1. Safe to run twice: execution claims are atomic.
 */
export async function sweep(env: Bindings): Promise<void> {
  await wakeAllShards(env, Date.now());
}
