import type { Domain } from "../../domain/types";
import type { Engine } from "../ports";
import { cancelWaitingOnGoal, GOAL_REACHED } from "../record-activities/transitions";
import { scenarioRecordsMatching } from "../records/matching";

export { GOAL_REACHED };

interface GoalScenario {
  id: number;
  model: string;
  goal: Domain;
}

/**
 * Of the given scenario records of `scenario`, those whose record now matches the scenario's goal convert: the
 * conversion is stamped once (attributed to the activity whose e-mail the record clicked last, if any) and their
 * waiting record activities are cancelled with the reason "goal reached". Returns the ones that match. Safe to repeat.
 */
export async function reachGoal(
  e: Engine,
  scenario: GoalScenario,
  scenarioRecordIds: number[],
  now: number,
): Promise<Set<number>> {
  if (scenarioRecordIds.length === 0) return new Set();
  const matching = await scenarioRecordsMatching(e.d1, scenario.model, scenario.goal, scenarioRecordIds, now);
  if (matching.size === 0) return matching;
  const ids = JSON.stringify([...matching]);
  await e.d1.batch([
    e.d1
      .prepare(
        `UPDATE scenario_records SET goal_reached_at = ?2,
           goal_activity_id = (SELECT ra.activity_id FROM record_activities ra
                               WHERE ra.scenario_record_id = scenario_records.id AND ra.email_clicked = 1
                               ORDER BY ra.email_clicked_at DESC, ra.id DESC LIMIT 1)
         WHERE id IN (SELECT value FROM json_each(?1)) AND goal_reached_at IS NULL`,
      )
      .bind(ids, now),
    cancelWaitingOnGoal(e.d1, [...matching], now),
  ]);
  return matching;
}

/** The scenarios (enrolled ones: not in draft) with a goal, of one model or by id. */
export async function goalScenarios(e: Engine, where: { model?: string; ids?: number[] }): Promise<GoalScenario[]> {
  const { results } = await e.d1
    .prepare(
      `SELECT id, model, goal FROM scenarios WHERE goal IS NOT NULL AND state != 'draft'
         AND (?1 IS NULL OR model = ?1) AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))`,
    )
    .bind(where.model ?? null, where.ids ? JSON.stringify(where.ids) : null)
    .all<{ id: number; model: string; goal: string }>();
  return results.map((r) => ({ id: r.id, model: r.model, goal: JSON.parse(r.goal) as Domain }));
}

/** After records were written: those that now reach the goal of a scenario they are in leave it. */
export async function checkGoalsOf(e: Engine, model: string, recordIds: string[], now: number): Promise<void> {
  for (const scenario of await goalScenarios(e, { model })) {
    try {
      const { results } = await e.d1
        .prepare(
          `SELECT id FROM scenario_records WHERE scenario_id = ?1 AND model = ?2
             AND record_id IN (SELECT value FROM json_each(?3)) AND goal_reached_at IS NULL`,
        )
        .bind(scenario.id, model, JSON.stringify(recordIds))
        .all<{ id: number }>();
      await reachGoal(
        e,
        scenario,
        results.map((r) => r.id),
        now,
      );
    } catch (err) {
      console.error(`goal of scenario ${scenario.id} could not be checked`, err);
    }
  }
}
