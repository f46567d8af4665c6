import { listedBy } from "../../db/claims";
import { SHARD_COUNT } from "../../db/shards";
import { archiveStagedOfLapsed } from "../../email/staged";

/** SQL: 1 when the record activity (aliased `row`) cannot run now — its scenario is not running or its record is blocked. */
export const PAUSED = (row: string) =>
  `(coalesce((SELECT state != 'running' FROM scenarios WHERE id = ${row}.scenario_id), 1)
    OR coalesce((SELECT blocked FROM scenario_records WHERE id = ${row}.scenario_record_id), 1))`;

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

/** SQL: the ids listed by the live claims of shard `?1` at `?2` (the claims table is small: the claims in flight). */
const LIVE_HELD = listedBy("l", "lc.shard = ?1 AND lc.until > ?2");
/** SQL: the ids listed by the lapsed claims of shard `?1` at `?2`: their Workers are presumed dead. */
const LAPSED_HELD = listedBy("p", "pc.shard = ?1 AND pc.until <= ?2");

/**
 * SQL: the head of a shard's work, `?1` shard, `?2` now, `?3` limit: waiting rows due, in the due index's order, but
 * those live claims hold. Rows of lapsed claims are due like the others: they are taken over in their turn.
 */
const DUE_HEAD = `
  SELECT id, at FROM record_activities
  WHERE shard = ?1 AND parked = 0 AND state = 'waiting' AND at <= ?2 AND id NOT IN (${LIVE_HELD})
  ORDER BY at LIMIT ?3`;

/**
 * One shard's claim, in one D1 batch (a transaction): the `claims` row is written with the ids of the head rows that
 * can run. That row is all a claim writes, unless it takes over rows of lapsed claims: those get the dead attempt
 * counted (`attempts + 1`, so a row whose Worker dies every time still runs out of attempts), and leave the lapsed
 * claim's list, so that claim's late commit can no longer settle them; the e-mails the lapsed claims
 * had staged are archived `abandoned` (src/email/archive.ts); lapsed claims left holding nothing are deleted.
 */
async function claimShard(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number },
): Promise<{ claimed: Claimed[]; healed: number }> {
  const until = o.now + CLAIM_TIMEOUT_MS;
  const taken = listedBy("t", "tc.key = ?3 AND tc.shard = ?1");
  const results = await d1.batch<Claimed>([
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
      .bind(o.shard, o.now, o.limit, o.claimKey, until),
    d1
      .prepare(
        `UPDATE record_activities SET attempts = attempts + 1
         WHERE id IN (${LAPSED_HELD} AND pc.key != ?3 AND pj.value IN (${taken}))`,
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
  ]);
  const claimed = results[results.length - 1]?.results ?? [];
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
