import type { ActionOutcome } from "../../ports";
import { GOAL_REACHED, goalScenarios, reachGoal } from "../../reactions/goals";
import type { Gate } from "./gate";

/**
 * The scenario's goal: a record that has reached it (now, or before) leaves the scenario, so its due work is
 * cancelled with the reason "goal reached" instead of running. Catches what the check after each record write could
 * not see (a goal relative to the current time, a record written around the API).
 */
export const scenarioGoal: Gate = {
  name: "goal",
  async check(jobs, { engine, now }) {
    const settled = new Map<number, ActionOutcome>();
    const scenarioIds = [...new Set(jobs.map((j) => j.claimed.scenario_id))];
    const scenarios = await goalScenarios(engine, { ids: scenarioIds });
    if (scenarios.length === 0) return settled;
    const srIds = jobs.map((j) => j.claimed.scenario_record_id);
    const { results } = await engine.d1
      .prepare(
        "SELECT id FROM scenario_records WHERE id IN (SELECT value FROM json_each(?1)) AND goal_reached_at IS NOT NULL",
      )
      .bind(JSON.stringify(srIds))
      .all<{ id: number }>();
    const reached = new Set(results.map((r) => r.id));
    for (const scenario of scenarios) {
      const open = jobs.filter(
        (j) => j.claimed.scenario_id === scenario.id && !reached.has(j.claimed.scenario_record_id),
      );
      try {
        const ids = [...new Set(open.map((j) => j.claimed.scenario_record_id))];
        for (const id of await reachGoal(engine, scenario, ids, now)) reached.add(id);
      } catch (err) {
        console.error(`goal of scenario ${scenario.id} could not be checked`, err);
      }
    }
    for (const j of jobs) {
      if (reached.has(j.claimed.scenario_record_id))
        settled.set(j.claimed.id, { status: "cancelled", reason: GOAL_REACHED });
    }
    return settled;
  },
};
