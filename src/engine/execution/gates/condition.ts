import type { Domain } from "../../../domain/types";
import type { ActionOutcome } from "../../ports";
import { scenarioRecordsMatching } from "../../records/matching";
import type { Gate } from "./gate";

/**
 * The activity's condition, checked against the record as it is now, set-based: one query per activity of the batch
 * that has a condition. Not matching: cancelled. A condition that cannot be evaluated: failed.
 */
export const activityCondition: Gate = {
  name: "condition",
  async check(jobs, { engine, now }) {
    const settled = new Map<number, ActionOutcome>();
    const byActivity = new Map<number, typeof jobs>();
    for (const j of jobs) {
      if (j.activity.condition === null) continue;
      const list = byActivity.get(j.activity.id);
      if (list) list.push(j);
      else byActivity.set(j.activity.id, [j]);
    }
    for (const rows of byActivity.values()) {
      const first = rows[0] as (typeof rows)[number];
      try {
        const matching = await scenarioRecordsMatching(
          engine.d1,
          first.model,
          JSON.parse(first.activity.condition as string) as Domain,
          rows.map((r) => r.claimed.scenario_record_id),
          now,
        );
        for (const r of rows) {
          if (!matching.has(r.claimed.scenario_record_id)) {
            settled.set(r.claimed.id, { status: "cancelled", reason: "the record does not match the condition" });
          }
        }
      } catch (err) {
        const error = `the condition cannot be evaluated: ${err instanceof Error ? err.message : String(err)}`;
        for (const r of rows) settled.set(r.claimed.id, { status: "failed", error });
      }
    }
    return settled;
  },
};
