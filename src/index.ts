import { buildApp } from "./app";
import { runCron } from "./crons";
import type { Bindings } from "./env";

export { Enroller } from "./scheduler/enroller";
export { Scheduler } from "./scheduler/scheduler";

const app = buildApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    await runCron(controller.cron, env, ctx, controller.scheduledTime);
  },
} satisfies ExportedHandler<Bindings>;
