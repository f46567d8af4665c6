import type { FrequencyCap } from "../../db/schema";
import { capPeriodMs, MAX_CAP_PERIOD_MS } from "./rules";

/** One e-mail about to go out, as the frequency caps see it. */
export interface CapJob {
  id: number;
  partyId: string;
  scenarioId: number;
  /** The scenario's own cap, if any. */
  scenarioCap: FrequencyCap | null;
}

export type CapVerdict = { ok: true } | { ok: false; until: number; reason: string };

/** How often a batch also deletes its parties' slots that are too old to count (they are never read). */
const PRUNE_CHANCE = 0.05;

const capText = (cap: FrequencyCap) => `${cap.max} e-mail${cap.max === 1 ? "" : "s"} per ${cap.period}`;

/**
 * Takes a send slot for each job whose party is still under its caps (the global one and its scenario's), in one D1
 * batch (a transaction):
 * - a record activity that already holds a slot (a retry, a send a throttle deferred) keeps it;
 * - the others are ranked per party (and per party and scenario) in id order, and one INSERT … SELECT takes a slot
 *   for those whose rank plus the party's slots of the period stays within the cap. Counting and taking happen in the
 *   same statement, which SQLite runs alone: two shards claiming the same party's e-mails at once cannot both take
 *   its last slot. Rows this statement inserts are not counted by it, hence the ranks;
 * - the slots of the batch's parties in the longest period are read back: a job passes when it holds one, and a
 *   refused job may go when enough of the oldest slots leave the rolling period.
 * Slots older than the longest period a cap may have (P31D) are deleted for the batch's parties now and then.
 */
export async function takeSendSlots(
  d1: D1Database,
  jobs: CapJob[],
  globalCap: FrequencyCap | null,
  now: number,
): Promise<Map<number, CapVerdict>> {
  const verdicts = new Map<number, CapVerdict>();
  if (jobs.length === 0) return verdicts;
  const gPeriod = globalCap ? (capPeriodMs(globalCap.period) as number) : null;
  const rows = jobs.map((j) => ({
    id: j.id,
    p: j.partyId,
    s: j.scenarioId,
    smax: j.scenarioCap?.max ?? null,
    speriod: j.scenarioCap ? capPeriodMs(j.scenarioCap.period) : null,
  }));
  const json = JSON.stringify(rows);
  const parties = JSON.stringify([...new Set(jobs.map((j) => j.partyId))]);
  const statements = [
    d1
      .prepare(
        `INSERT INTO send_slots (record_activity_id, party_id, scenario_id, at)
         SELECT j.id, j.p, j.s, ?2 FROM (
           SELECT j0.*, row_number() OVER (PARTITION BY j0.p ORDER BY j0.id) AS rank_all,
                  row_number() OVER (PARTITION BY j0.p, j0.s ORDER BY j0.id) AS rank_scenario
           FROM (SELECT json_extract(value, '$.id') AS id, json_extract(value, '$.p') AS p,
                        json_extract(value, '$.s') AS s, json_extract(value, '$.smax') AS smax,
                        json_extract(value, '$.speriod') AS speriod
                 FROM json_each(?1)) AS j0
           WHERE NOT EXISTS (SELECT 1 FROM send_slots x WHERE x.record_activity_id = j0.id)) AS j
         WHERE (?3 IS NULL OR (SELECT count(*) FROM send_slots x WHERE x.party_id = j.p AND x.at > ?2 - ?4)
                               + j.rank_all <= ?3)
           AND (j.smax IS NULL OR (SELECT count(*) FROM send_slots x
                                   WHERE x.party_id = j.p AND x.scenario_id = j.s AND x.at > ?2 - j.speriod)
                                  + j.rank_scenario <= j.smax)`,
      )
      .bind(json, now, globalCap?.max ?? null, gPeriod),
    // Every slot of the batch's parties that can still count, the ones just taken and the ones held before included.
    d1
      .prepare(
        `SELECT record_activity_id AS id, party_id, scenario_id, at FROM send_slots
         WHERE party_id IN (SELECT value FROM json_each(?1)) AND at > ?2 ORDER BY at`,
      )
      .bind(parties, now - MAX_CAP_PERIOD_MS),
  ];
  // Slots too old to count for any cap are deleted now and then, for the batch's parties (through their index).
  if (Math.random() < PRUNE_CHANCE) {
    statements.push(
      d1
        .prepare("DELETE FROM send_slots WHERE party_id IN (SELECT value FROM json_each(?1)) AND at <= ?2")
        .bind(parties, now - MAX_CAP_PERIOD_MS),
    );
  }
  const [, slots] = await d1.batch<{ id: number; party_id: string; scenario_id: number; at: number }>(statements);
  const passed = new Set((slots?.results ?? []).map((r) => r.id));
  const all = slots?.results ?? [];
  for (const j of jobs) {
    if (passed.has(j.id)) {
      verdicts.set(j.id, { ok: true });
      continue;
    }
    const reasons: string[] = [];
    let until = now + 60_000; // refused only for its rank within this batch: look again soon
    const free = (cap: FrequencyCap, period: number, scenarioId: number | null) => {
      const inPeriod = all
        .filter((s) => s.party_id === j.partyId && (scenarioId === null || s.scenario_id === scenarioId))
        .filter((s) => s.at > now - period);
      if (inPeriod.length < cap.max) return;
      // Once the oldest (count − max + 1) slots have left the period, one is free.
      const oldest = inPeriod[inPeriod.length - cap.max] as { at: number };
      until = Math.max(until, oldest.at + period);
      reasons.push(scenarioId === null ? `${capText(cap)} across scenarios` : `${capText(cap)} in this scenario`);
    };
    if (globalCap && gPeriod) free(globalCap, gPeriod, null);
    if (j.scenarioCap) free(j.scenarioCap, capPeriodMs(j.scenarioCap.period) as number, j.scenarioId);
    const why = reasons.length > 0 ? reasons.join(" and ") : "the cap's last slot went to another e-mail of the batch";
    verdicts.set(j.id, { ok: false, until, reason: `frequency cap reached (${why}): deferred until it allows` });
  }
  return verdicts;
}
