import { SHARD_COUNT } from "../../db/shards";
import { parkHeadThatCannotRun } from "../record-activities/due";
import { claimShardStatements } from "../record-activities/execution";

/** A claim not finished within this time is taken over: the Worker that held it is presumed dead. */
export const CLAIM_TIMEOUT_MS = 5 * 60_000;
/** Rows claimed at once; each claim's results are written back in one D1 batch. */
export const CLAIM_BATCH = 100;

/** A record activity taken by a claim. `attempts` already counts this one. */
export interface Claimed {
  id: number;
  scenario_record_id: number;
  activity_id: number;
  scenario_id: number;
  shard: number;
  attempts: number;
}

/**
 * The atomic claim: one `claims` row lists the due rows it takes, and is the only row it writes. The record
 * activities stay `waiting` (and in the due index): the next claim of the shard skips those that live claims list.
 * SQLite runs the batch alone, so two claims never take the same row. The head reads the due index in order and stops
 * at `limit`: paused rows (`parked`) are not in its range, so a stopped scenario's backlog costs nothing. Without a
 * shard, the shards are claimed one after the other.
 */
export async function claim(
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

/**
 * One shard's claim, in one D1 batch (a transaction; its statements and what they write in
 * src/engine/record-activities/execution.ts), then, when it comes back short, the heal that parks the head rows that
 * cannot run.
 */
async function claimShard(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number },
): Promise<{ claimed: Claimed[]; healed: number }> {
  const until = o.now + CLAIM_TIMEOUT_MS;
  const results = await d1.batch<Claimed>(claimShardStatements(d1, { ...o, until }));
  const claimed = results[results.length - 1]?.results ?? [];
  if (claimed.length === o.limit) return { claimed, healed: 0 };
  // A short claim: rows at the head that cannot run may stand in front of rows that can (parkHeadThatCannotRun).
  const heal = await parkHeadThatCannotRun(d1, o).run();
  return { claimed, healed: heal.meta.changes ?? 0 };
}
