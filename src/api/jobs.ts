import { createRoute, z } from "@hono/zod-openapi";
import { ENROLL_REQUEST_BUDGET_MS, enroll } from "../engine/enrollment/enroll";
import { processUntilIdle } from "../engine/execution/process";
import { router } from "../http/router";
import { errorResponses, json } from "./schemas";

const EnrollResult = z
  .object({
    scenarios: z.number().int(),
    enrolled: z.number().int(),
    record_activities: z.number().int(),
    failed: z.array(z.object({ scenario_id: z.string(), error: z.string() })),
    background: z.array(z.string()).openapi({
      description:
        "scenarios whose pass goes on in the background, in bounded steps (the request enrolls for at most 10 s, then hands the rest to each scenario's Enroller)",
    }),
  })
  .openapi("EnrollResult");

const ProcessResult = z
  .object({
    claimed: z.number().int(),
    done: z.number().int(),
    cancelled: z.number().int(),
    failed: z.number().int(),
    retried: z.number().int(),
    deferred: z.number().int().openapi({
      description: "put back to waiting without counting an attempt (a throttle, a send window, a frequency cap)",
    }),
    more: z.boolean().openapi({
      description:
        "the call stopped at its limit (15 s or 600 record activities, the same as an alarm's): more may be due, call again",
    }),
  })
  .openapi("ProcessResult");

export const jobsApi = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/jobs/enroll",
      tags: ["Jobs"],
      summary:
        "Run enrollment now for every running scenario (the cron does it every five minutes); at most 10 s in the request, the rest in the background",
      description: "Starts an enrollment pass of every running scenario at once instead of waiting for the cron.",
      responses: { 200: json(EnrollResult, "What was enrolled"), 401: errorResponses[401] },
    }),
    async (c) => c.json(await enroll(c.get("engine"), { budgetMs: ENROLL_REQUEST_BUDGET_MS }), 200),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/jobs/process",
      tags: ["Jobs"],
      summary: "Execute what is due now (alarms do it on time by themselves)",
      description:
        "Runs the record activities that are due now; alarms do this on time, so this is for tests and scripts.",
      responses: { 200: json(ProcessResult, "What was executed"), 401: errorResponses[401] },
    }),
    async (c) => c.json(await processUntilIdle(c.get("engine")), 200),
  );
