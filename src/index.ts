import { buildApp } from "./app";
import { runCron } from "./crons";
import type { Bindings } from "./env";

export { Enroller } from "./objects/enroller";
export { Scheduler } from "./objects/scheduler";

const app = buildApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    await runCron(controller.cron, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;
