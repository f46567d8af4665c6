import { createRoute, z } from "@hono/zod-openapi";
import { createMailer } from "../email/mailer";
import { enroll } from "../engine/enroll";
import { processDue } from "../engine/execute";
import { router } from "./router";
import { errorResponses, json } from "./schemas";

const EnrollResult = z
  .object({
    scenarios: z.number().int(),
    enrolled: z.number().int(),
    record_activities: z.number().int(),
    failed: z.array(z.object({ scenario_id: z.string(), error: z.string() })),
  })
  .openapi("EnrollResult");

const ProcessResult = z
  .object({
    claimed: z.number().int(),
    done: z.number().int(),
    cancelled: z.number().int(),
    failed: z.number().int(),
    retried: z.number().int(),
    deferred: z.number().int().openapi({ description: "deferred by a send window or a frequency cap" }),
  })
  .openapi("ProcessResult");

/** Executes due work for at most this long in one request, then answers (the rest runs on alarms). */
const PROCESS_BUDGET_MS = 20_000;

export const jobsApi = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/jobs/enroll",
      tags: ["Jobs"],
      summary: "Run enrollment now for every running scenario (the cron does it every five minutes)",
      responses: { 200: json(EnrollResult, "What was enrolled"), 401: errorResponses[401] },
    }),
    async (c) => c.json(await enroll(c.get("engine")), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/jobs/process",
      tags: ["Jobs"],
      summary: "Execute what is due now (alarms do it on time by themselves)",
      responses: { 200: json(ProcessResult, "What was executed"), 401: errorResponses[401] },
    }),
    async (c) => {
      const e = c.get("engine");
      const mailer = createMailer(c.env);
      const total = { claimed: 0, done: 0, cancelled: 0, failed: 0, retried: 0, deferred: 0 };
      const started = Date.now();
      for (;;) {
        const r = await processDue(e, mailer);
        total.claimed += r.claimed;
        total.done += r.done;
        total.cancelled += r.cancelled;
        total.failed += r.failed;
        total.retried += r.retried;
        total.deferred += r.deferred;
        if (!r.more || Date.now() - started > PROCESS_BUDGET_MS) break;
      }
      return c.json(total, 200);
    },
  );
