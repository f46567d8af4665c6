import { reconcileAbandoned } from "./email/staged";
import { scenariosDueForPass } from "./engine/enrollment/passes";
import { CLAIM_TIMEOUT_MS } from "./engine/execution/claim";
import { retentionSweep } from "./engine/retention/retention";
import { finishReparking } from "./engine/scenarios/scenarios";
import { type Bindings, getConfig } from "./env";
import { sweep } from "./scheduler/sweep";
import { buildServices } from "./services";

/** Cron schedules of wrangler.toml: the minute sweep and the five-minute enrollment. */
export const CRON_SWEEP = "* * * * *";
export const CRON_ENROLL = "*/5 * * * *";

/** The scheduled handler only dispatches to verbs that are safe to run twice. */
export async function runCron(
  cron: string,
  env: Bindings,
  ctx: ExecutionContext,
  scheduledTime = Date.now(),
): Promise<void> {
  const e = buildServices(env, { waitUntil: (p) => ctx.waitUntil(p) });
  if (cron === CRON_ENROLL) {
    // Only scenarios where something can have changed get a pass (src/engine/enrollment/passes.ts); each runs in its own
    // Enroller, in bounded steps: the cron only hands them out.
    // The cycle's own time, so that a late cron still decides for the period it was meant for.
    const due = await scenariosDueForPass(e, scheduledTime);
    await Promise.all(due.map((s) => e.enrollment.start(s.id)));
    if (due.length > 0) {
      console.log(`enrollment: passes started for ${due.map((s) => `${s.id} (${s.reason})`).join(", ")}`);
    }
  } else {
    try {
      const reparked = await finishReparking(e);
      if (reparked > 0) console.log(`sweep: finished re-parking ${reparked} scenarios`);
    } catch (err) {
      console.error("sweep: re-parking failed; the next sweep tries again", err);
    }
    await sweep(env);
    try {
      const settled = await reconcileAbandoned(env.DB, Date.now(), CLAIM_TIMEOUT_MS);
      if (settled > 0) console.log(`sweep: ${settled} e-mails left sending by a stopped Worker settled`);
    } catch (err) {
      console.error("sweep: settling e-mails left sending failed; the next sweep tries again", err);
    }
    try {
      const days = getConfig(env).retentionDays;
      if (days !== null) {
        // Steps until nothing is old enough or the budget (20 s) is spent: 1 M e-mails a day is 2,000 steps.
        const r = await retentionSweep(e, Date.now(), days);
        if (r.steps > 0) {
          console.log(
            `retention: ${r.emails} e-mails, ${r.record_activities} record activities and ${r.hits} hits exported ` +
              `to ${r.objects} objects in ${r.steps} steps${r.done ? "" : "; more left for the next sweep"}`,
          );
        }
      }
    } catch (err) {
      console.error("retention: the step failed; the next sweep tries again", err);
    }
  }
}
