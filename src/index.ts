import { buildApp } from "./app";
import { createEngine } from "./engine/context";
import { enroll } from "./engine/enroll";
import type { Bindings } from "./env";
import { sweep } from "./scheduler/sweep";

export { Scheduler } from "./scheduler/scheduler";

const app = buildApp();

/** Cron schedules of wrangler.toml: the minute sweep and the five-minute enrollment. */
export const CRON_SWEEP = "* * * * *";
export const CRON_ENROLL = "*/5 * * * *";

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    if (controller.cron === CRON_ENROLL) {
      const result = await enroll(createEngine(env, { waitUntil: (p) => ctx.waitUntil(p) }));
      console.log(`enrollment: ${result.enrolled} records into ${result.scenarios} scenarios`);
    } else {
      await sweep(env);
    }
  },
} satisfies ExportedHandler<Bindings>;
