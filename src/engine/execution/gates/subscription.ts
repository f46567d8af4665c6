import type { ActionOutcome } from "../../ports";
import type { Gate } from "./gate";

/**
 * A `subscription_not_confirmed` record activity (the expiry of a double opt-in) whose recipient confirmed after it was
 * claimed is cancelled, like the confirmation would have cancelled it while waiting. One query, only when the batch
 * holds such rows.
 */
export const subscriptionGate: Gate = {
  name: "subscription",
  async check(jobs, { engine }) {
    const settled = new Map<number, ActionOutcome>();
    const expiring = jobs.filter((j) => j.activity.on === "subscription_not_confirmed");
    if (expiring.length === 0) return settled;
    const { results } = await engine.d1
      .prepare(
        "SELECT scenario_record_id AS id FROM subscription_confirmations WHERE scenario_record_id IN (SELECT value FROM json_each(?1))",
      )
      .bind(JSON.stringify(expiring.map((j) => j.claimed.scenario_record_id)))
      .all<{ id: number }>();
    const confirmed = new Set(results.map((r) => r.id));
    for (const j of expiring) {
      if (confirmed.has(j.claimed.scenario_record_id)) {
        settled.set(j.claimed.id, { status: "cancelled", reason: "the subscription was confirmed" });
      }
    }
    return settled;
  },
};
