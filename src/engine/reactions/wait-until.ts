import { shiftBy } from "../../domain/duration";
import type { Domain } from "../../domain/types";
import type { Engine, WakeTime } from "../ports";
import { cancelRecordNotChangedSiblings, makeRecordChangedDue } from "../record-activities/transitions";
import { scenarioRecordsMatching } from "../records/matching";

/**
 * Wait until: a child with `on = "record_changed"` waits (no due time) until its record is written and then matches
 * the child's condition (any write when it has none); it is then due at now + its delay, and its waiting
 * `record_not_changed` siblings, the else-branch due at the deadline, are cancelled. Nothing polls: the check runs
 * when records are written (through the API, or by `update_record`) and, for a child with a condition, once when it
 * is created (the record may match already). Safe to repeat: only rows still waiting without a due time fire.
 */

interface Waiting {
  id: number;
  scenario_record_id: number;
  shard: number;
  activity_id: number;
  condition: string | null;
  delay: string | null;
  model: string;
}

const WAITING_COLUMNS = `ra.id, ra.scenario_record_id, ra.shard, a.id AS activity_id, a.condition, a.delay, sr.model`;

/** After records of `model` were written: their waiting `record_changed` record activities whose condition holds fire. */
export async function recordsChanged(e: Engine, model: string, recordIds: string[], now: number): Promise<number> {
  const { results } = await e.d1
    .prepare(
      `SELECT ${WAITING_COLUMNS}
       FROM scenarios s
       JOIN scenario_records sr ON sr.scenario_id = s.id AND sr.model = ?1
         AND sr.record_id IN (SELECT value FROM json_each(?2))
       JOIN record_activities ra ON ra.scenario_record_id = sr.id AND ra.state = 'waiting' AND ra.at IS NULL
       JOIN activities a ON a.id = ra.activity_id AND a."on" = 'record_changed'
       WHERE s.model = ?1 AND s.id IN (SELECT scenario_id FROM activities WHERE "on" = 'record_changed')`,
    )
    .bind(model, JSON.stringify(recordIds))
    .all<Waiting>();
  return fire(e, results, now, false);
}

/** Right after `record_changed` children were created: those with a condition the record already meets fire. */
export async function recordChangedCreated(e: Engine, scenarioRecordIds: number[], now: number): Promise<number> {
  const { results } = await e.d1
    .prepare(
      `SELECT ${WAITING_COLUMNS}
       FROM record_activities ra
       JOIN scenario_records sr ON sr.id = ra.scenario_record_id
       JOIN activities a ON a.id = ra.activity_id AND a."on" = 'record_changed' AND a.condition IS NOT NULL
       WHERE ra.scenario_record_id IN (SELECT value FROM json_each(?1)) AND ra.state = 'waiting' AND ra.at IS NULL`,
    )
    .bind(JSON.stringify(scenarioRecordIds))
    .all<Waiting>();
  return fire(e, results, now, true);
}

async function fire(e: Engine, rows: Waiting[], now: number, needCondition: boolean): Promise<number> {
  if (rows.length === 0) return 0;
  const byActivity = new Map<number, Waiting[]>();
  for (const r of rows) byActivity.set(r.activity_id, [...(byActivity.get(r.activity_id) ?? []), r]);
  const due: Record<string, number> = {};
  const fired: Waiting[] = [];
  for (const list of byActivity.values()) {
    const first = list[0] as Waiting;
    if (first.condition === null) {
      if (needCondition) continue;
      fired.push(...list);
    } else {
      try {
        const matching = await scenarioRecordsMatching(
          e.d1,
          first.model,
          JSON.parse(first.condition) as Domain,
          list.map((r) => r.scenario_record_id),
          now,
        );
        fired.push(...list.filter((r) => matching.has(r.scenario_record_id)));
      } catch (err) {
        console.error(`wait-until activity ${first.activity_id}: condition failed`, err);
      }
    }
  }
  if (fired.length === 0) return 0;
  for (const r of fired) due[r.id] = shiftBy(now, r.delay);
  const ids = fired.map((r) => r.id);
  const [updated] = await e.d1.batch<{ id: number }>([
    makeRecordChangedDue(e.d1, ids, due, now),
    cancelRecordNotChangedSiblings(e.d1, ids, now),
  ]);
  const firedIds = new Set((updated?.results ?? []).map((r) => r.id));
  const wake: WakeTime[] = fired
    .filter((r) => firedIds.has(r.id))
    .map((r) => ({ shard: r.shard, at: due[r.id] as number }));
  if (wake.length > 0) await e.wake(wake);
  return wake.length;
}
