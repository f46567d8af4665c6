/**
 * SQL fragments over the `claims` table: each row lists, in JSON, the record activities one claim holds in one shard
 * (src/engine/execution/claim.ts takes and settles them). Shared by the claim, the commit, the e-mail archive's staged
 * rows and the readers that show what is running.
 */

/**
 * SQL: the record activity ids listed by the claims rows that `where` accepts, the rows aliased `{a}c` and each id
 * `{a}j.value` (each use takes its own alias, so they nest).
 */
export const listedBy = (a: string, where: string) =>
  `SELECT ${a}j.value FROM claims ${a}c, json_each(${a}c.ids) ${a}j WHERE ${where}`;

/** SQL: the ids of the record activities that claim `key` (a bound parameter) holds, over its rows (one a shard). */
export const HELD_BY = (key: string) => listedBy("h", `hc.key = ${key}`);

/**
 * SQL, the commit's guard: the record activity `row` is still claim `key`'s to settle — still `waiting` (nothing
 * cancelled it meanwhile) and still listed by the claim (no takeover removed it). Read in the commit's transaction,
 * before the claim's rows are deleted.
 */
export const STILL_CLAIMED = (row: string, key: string) =>
  // `+`: the claim's list is read once and checked, never made to drive the statement (a scan of its JSON a row).
  `(${row}.state = 'waiting' AND +${row}.id IN (${HELD_BY(key)}))`;

/**
 * SQL: the record activity `row` is being executed — `waiting` and listed by a claim of its shard (live, or lapsed and
 * not yet taken over), or `running` under a claim made before claims stopped writing their rows. What `running` shows.
 */
export const RUNNING = (row: string) =>
  `(${row}.state = 'running' OR (${row}.state = 'waiting'
    AND EXISTS (${listedBy("r", `rc.shard = ${row}.shard AND rj.value = ${row}.id`)})))`;

/**
 * SQL: the record activities (`ra.*`) that lapsed claims still hold, `?1` now: nobody has taken them over yet (still
 * `waiting` and listed, or `running` under a claim made before the upgrade).
 */
export const LAPSED_CLAIMS = `
  SELECT ra.id FROM claims c, json_each(c.ids) j JOIN record_activities ra ON ra.id = j.value
  WHERE c.until <= ?1 AND (ra.state = 'waiting' OR (ra.state = 'running' AND ra.claim_key = c.key))`;

/** Lapses claim `key` now: its holder is known to be gone, so the next claim of its shard takes its rows over at once. */
export function lapseClaim(d1: D1Database, key: string, now: number) {
  return d1.prepare("UPDATE claims SET until = ?2 WHERE key = ?1 AND until > ?2").bind(key, now);
}
