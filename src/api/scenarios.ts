import { createRoute, z } from "@hono/zod-openapi";
import type { Engine } from "../engine/ports";
import { countMatching } from "../engine/records/matching";
import { draftScenario, runScenario, scenarioEnrollment, stopScenario } from "../engine/scenarios/lifecycle";
import {
  createScenario,
  deleteScenario,
  getScenario,
  listScenarios,
  type ScenarioInput as ScenarioFields,
  updateScenario,
} from "../engine/scenarios/scenarios";
import { scenarioWarnings } from "../engine/scenarios/warnings";
import { idOr404, numericCursor, router } from "../http/router";
import { presentPage, presentScenario } from "./present";
import {
  Domain,
  errorResponses,
  FrequencyCap,
  IdParam,
  json,
  jsonBody,
  listOf,
  Page,
  Scenario,
  ScenarioState,
  SendWindow,
} from "./schemas";

type ScenarioBody = Partial<z.infer<typeof ScenarioPatch>>;

/** API fields (snake_case) to the engine's input; only the fields present are mapped. */
function toInput(body: ScenarioBody): Partial<ScenarioFields> {
  const { send_window, time_zone, frequency_cap, double_opt_in, ...rest } = body;
  const out: Partial<ScenarioFields> = { ...rest };
  if (double_opt_in !== undefined) out.doubleOptIn = double_opt_in;
  if (send_window !== undefined) out.sendWindow = send_window as ScenarioFields["sendWindow"];
  if (time_zone !== undefined) out.timeZone = time_zone;
  if (frequency_cap !== undefined) out.frequencyCap = frequency_cap;
  return out;
}

const ScenarioInput = z
  .object({
    name: z.string().min(1).max(200).openapi({ example: "Welcome" }),
    model: z.string().openapi({ example: "party" }),
    domain: Domain.default([]),
    unsubscribable: z.boolean().default(false),
    send_window: SendWindow.nullable().optional(),
    time_zone: z.string().max(100).nullable().optional().openapi({ example: "Europe/Paris" }),
    frequency_cap: FrequencyCap.nullable().optional(),
    topics: z
      .array(z.string().max(64))
      .max(50)
      .optional()
      .openapi({ example: ["newsletter"] }),
    double_opt_in: z.boolean().optional().openapi({
      description: "requires a confirmed subscription before anything else reaches the recipient (docs/recipients.md)",
    }),
    goal: Domain.nullable().default(null).openapi({
      description: "a domain over the record: once it matches, the record converts and leaves the scenario",
    }),
  })
  .strict()
  .openapi("ScenarioInput");

const ScenarioPatch = z
  .object({
    name: z.string().min(1).max(200),
    model: z.string(),
    domain: Domain,
    unsubscribable: z.boolean(),
    send_window: SendWindow.nullable(),
    time_zone: z.string().max(100).nullable(),
    frequency_cap: FrequencyCap.nullable(),
    topics: z.array(z.string().max(64)).max(50),
    double_opt_in: z.boolean(),
    goal: Domain.nullable(),
  })
  .partial()
  .strict()
  .openapi("ScenarioPatch");

const Enrollment = z
  .object({
    running: z.boolean().openapi({ description: "an enrollment pass is under way" }),
    next_rowid: z.number().int().nullable().openapi({ description: "where the pass continues" }),
    pass_requested: z.boolean().openapi({ description: "another pass will follow this one" }),
  })
  .openapi("Enrollment");

const Warnings = z.array(z.string()).openapi({
  description:
    "what to check before the scenario runs: a domain of [] (it takes every record of its model, and every one " +
    "pushed while it runs), a field of the domain or goal that no record of the model has (a typo?). Never refuses.",
  example: ['domain: no record of "party" has the field "emial": is it spelled right?'],
});
const ScenarioWarned = Scenario.extend({ warnings: Warnings }).openapi("ScenarioWithWarnings");
const ScenarioRun = ScenarioWarned.extend({
  enrollment: z
    .object({
      running: z.boolean().openapi({
        description: "records are being enrolled in the background (record_count grows as they are)",
      }),
      expected: z
        .number()
        .int()
        .openapi({
          description:
            "records the domain matches now: the pass enrolls those not in the scenario yet (parties opted out of " +
            "its topics stay out)",
        }),
    })
    .openapi("RunEnrollment"),
}).openapi("ScenarioRun");

type Presented = ReturnType<typeof presentScenario>;
async function withWarnings(e: Engine, s: Presented): Promise<Presented & { warnings: string[] }> {
  return { ...s, warnings: await scenarioWarnings(e, s) };
}

const transition = (action: "run" | "stop" | "draft", summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/scenarios/{id}/${action}`,
    tags: ["Scenarios"],
    summary,
    description,
    request: { params: IdParam },
    responses: {
      200: json(Scenario, "The scenario in its new state"),
      401: errorResponses[401],
      404: errorResponses[404],
      409: errorResponses[409],
    },
  });

export const scenariosApi = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/scenarios",
      tags: ["Scenarios"],
      summary: "Create a scenario (in draft)",
      description:
        "A scenario selects records of one model with its domain. It starts in draft, where record_count previews the matches; it sends nothing until run.",
      request: { body: jsonBody(ScenarioInput) },
      responses: {
        201: json(ScenarioWarned, "Created, with what to check before it runs (`warnings`)"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const e = c.get("engine");
      const scenario = await createScenario(e, toInput(c.req.valid("json")) as ScenarioFields);
      return c.json(await withWarnings(e, presentScenario(scenario)), 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios",
      tags: ["Scenarios"],
      summary: "List scenarios with their counts",
      description: "A page of scenarios, newest first, with their record counts and block rate.",
      request: { query: Page.extend({ state: ScenarioState.optional() }).strict() },
      responses: {
        200: json(listOf(Scenario, "ScenarioList"), "A page of scenarios"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await listScenarios(c.get("engine"), {
        limit: q.limit,
        cursor: numericCursor(q.cursor),
        state: q.state,
      });
      return c.json(presentPage(page, presentScenario), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}",
      tags: ["Scenarios"],
      summary: "One scenario with its counts (in draft, record_count previews the domain's matches)",
      description: "The scenario's settings, state and counts; 404 when there is none.",
      request: { params: IdParam },
      responses: { 200: json(Scenario, "The scenario"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      return c.json(presentScenario(await getScenario(c.get("engine"), id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/scenarios/{id}",
      tags: ["Scenarios"],
      summary: "Change a scenario's name, domain, unsubscribable flag (or model, in draft)",
      description:
        "Changes only the fields given. The model can change only in draft; a running double opt-in scenario keeps its rules (409 naming why).",
      request: { params: IdParam, body: jsonBody(ScenarioPatch) },
      responses: {
        200: json(ScenarioWarned, "Updated, with what to check before it runs (`warnings`)"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
        409: errorResponses[409],
      },
    }),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "scenario");
      return c.json(
        await withWarnings(e, presentScenario(await updateScenario(e, id, toInput(c.req.valid("json"))))),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/scenarios/{id}",
      tags: ["Scenarios"],
      summary: "Delete a scenario that is not running, with its activities and records",
      description: "Deletes the scenario with everything it holds; 409 while it is running (stop it first).",
      request: { params: IdParam },
      responses: {
        204: { description: "Deleted" },
        401: errorResponses[401],
        404: errorResponses[404],
        409: errorResponses[409],
      },
    }),
    async (c) => {
      await deleteScenario(c.get("engine"), idOr404(c.req.valid("param").id, "scenario"));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/scenarios/{id}/run",
      tags: ["Scenarios"],
      summary: "Run a draft or stopped scenario: it enrolls records and executes activities",
      description:
        "Enrollment runs in the background, in bounded steps: `record_count` counts the records enrolled so far " +
        "(0 at first), `enrollment.expected` how many the domain matches now, and `GET /api/scenarios/{id}/" +
        "enrollment` says when the pass is over. `warnings` says what to check (a domain of [] takes every record).",
      request: { params: IdParam },
      responses: {
        200: json(ScenarioRun, "The scenario, running, with its enrollment under way"),
        401: errorResponses[401],
        404: errorResponses[404],
        409: errorResponses[409],
      },
    }),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "scenario");
      const scenario = presentScenario(await runScenario(e, id));
      const [warnings, expected, status] = await Promise.all([
        scenarioWarnings(e, scenario),
        countMatching(e.d1, scenario.model, scenario.domain, Date.now()).catch(() => 0),
        scenarioEnrollment(e, id),
      ]);
      // The pass was asked for just now: running until the Enroller says it is over.
      const running = status.cursor !== null || status.again || expected > scenario.record_count;
      return c.json({ ...scenario, warnings, enrollment: { running, expected } }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/enrollment",
      tags: ["Scenarios"],
      summary: "Whether an enrollment pass of the scenario is under way (it runs in the background, in bounded steps)",
      description: "Tells whether a pass is running and how far it got; poll it after run.",
      request: { params: IdParam },
      responses: { 200: json(Enrollment, "The pass"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      const status = await scenarioEnrollment(c.get("engine"), id);
      return c.json({ running: status.cursor !== null, next_rowid: status.cursor, pass_requested: status.again }, 200);
    },
  )
  .openapi(
    transition(
      "stop",
      "Stop a running scenario: nothing is enrolled or executed until it runs again",
      "Waiting record activities keep waiting; 409 when the scenario is not running.",
    ),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      return c.json(presentScenario(await stopScenario(c.get("engine"), id)), 200);
    },
  )
  .openapi(
    transition(
      "draft",
      "Put a stopped scenario back in draft",
      "In draft, its model can change and record_count previews its matches again; 409 unless it is stopped.",
    ),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      return c.json(presentScenario(await draftScenario(c.get("engine"), id)), 200);
    },
  );
