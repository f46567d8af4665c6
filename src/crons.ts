import { createEngine } from "./engine/context";
import { enroll } from "./engine/enroll";
import type { Bindings } from "./env";
import { sweep } from "./scheduler/sweep";

/** Cron schedules of wrangler.toml: the minute sweep and the five-minute enrollment. */
export const CRON_SWEEP = "* * * * *";
export const CRON_ENROLL = "*/5 * * * *";

/** The scheduled handler only dispatches to verbs that are safe to run twice. */
export async function runCron(cron: string, env: Bindings, ctx: ExecutionContext): Promise<void> {
  if (cron === CRON_ENROLL) {
    const result = await enroll(createEngine(env, { waitUntil: (p) => ctx.waitUntil(p) }));
    console.log(`enrollment: ${result.enrolled} records into ${result.scenarios} scenarios`);
  } else {
    await sweep(env);
  }
}
