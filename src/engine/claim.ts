import { SHARD_COUNT } from "../db/shards";
import { archiveStagedOfLapsed } from "../email/archive";

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
 * The atomic claim: one conditional UPDATE moves due rows from `waiting` (or from a lapsed `running` claim) to
 * `running` under this claim's key. SQLite runs the statement alone, so two claims never take the same row. Each
 * branch reads the due index in order and stops at `limit`: paused rows (`parked`) are not in its range, so a stopped
 * scenario's backlog costs nothing. Without a shard, the shards are claimed one after the other.
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
 * SQL: the head of a shard's work, `?1` shard, `?2` now, `?3` limit: the running rows of lapsed claims (taken over),
 * then waiting rows due, in the due index's order.
 */
const DUE_HEAD = `
  SELECT ra.id, ra.at FROM claims c, json_each(c.ids) j JOIN record_activities ra ON ra.id = j.value
  WHERE c.shard = ?1 AND c.until <= ?2 AND ra.state = 'running' AND ra.claim_key = c.key AND ra.parked = 0
  UNION ALL
  SELECT * FROM (SELECT id, at FROM record_activities
                 WHERE shard = ?1 AND parked = 0 AND state = 'waiting' AND at <= ?2 ORDER BY at LIMIT ?3)`;

/**
 * One shard's claim, in one D1 batch (a transaction): the `claims` row is written with the ids of the head rows that
 * can run, those rows become `running` under its key, the e-mails the lapsed claims had staged are archived
 * `abandoned` (src/email/archive.ts), and the lapsed claims left with nothing running are deleted. The record
 * activities' rows are the only other writes: `running` rows are in neither the due nor the stats index.
 */
async function claimShard(
  d1: D1Database,
  o: { claimKey: string; now: number; limit: number; shard: number },
): Promise<{ claimed: Claimed[]; healed: number }> {
  const until = o.now + CLAIM_TIMEOUT_MS;
  const [, taken] = await d1.batch<Claimed>([
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
        `UPDATE record_activities
         SET state = 'running', claim_key = ?1, claimed_until = ?2, attempts = attempts + 1, updated_at = ?3
         WHERE id IN (SELECT j.value FROM claims c, json_each(c.ids) j WHERE c.key = ?1 AND c.shard = ?4)
         RETURNING id, scenario_record_id, activity_id, scenario_id, shard, attempts`,
      )
      .bind(o.claimKey, until, o.now, o.shard),
    ...archiveStagedOfLapsed(d1, o),
    d1
      .prepare(
        `DELETE FROM claims
         WHERE shard = ?1 AND until <= ?2 AND key != ?3 AND NOT EXISTS (
           SELECT 1 FROM json_each(claims.ids) j JOIN record_activities ra ON ra.id = j.value
           WHERE ra.state = 'running' AND ra.claim_key = claims.key)`,
      )
      .bind(o.shard, o.now, o.claimKey),
  ]);
  const claimed = taken?.results ?? [];
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

/** SQL: the record activities (`ra.*`) that lapsed claims still hold, `?1` now: nobody has taken them over yet. */
export const LAPSED_CLAIMS = `
  SELECT ra.id FROM claims c, json_each(c.ids) j JOIN record_activities ra ON ra.id = j.value
  WHERE c.until <= ?1 AND ra.state = 'running' AND ra.claim_key = c.key`;
