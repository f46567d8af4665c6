import { buildApp } from "./app";
import { runCron } from "./crons";
import type { Bindings } from "./env";
import { consumeDeliveryEvents } from "./queues/delivery-events";

export { Enroller } from "./objects/enroller";
export { Scheduler } from "./objects/scheduler";
export { SendThrottle } from "./objects/throttle";

const app = buildApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    await runCron(controller.cron, env, ctx, controller.scheduledTime);
  },
  async queue(batch, env, ctx) {
    await consumeDeliveryEvents(batch, env, ctx);
  },
} satisfies ExportedHandler<Bindings>;
