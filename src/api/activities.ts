import { createRoute, z } from "@hono/zod-openapi";
import {
  type ActivityInput,
  createActivity,
  deleteActivity,
  getActivity,
  listActivityTree,
  updateActivity,
} from "../engine/scenarios/activities";
import { invalid } from "../errors";
import { idOr404, router } from "../http/router";
import { parseId } from "../ids";
import { presentActivity } from "./present";
import {
  ActionSettings,
  Activity,
  ActivityAction,
  ActivityOn,
  Domain,
  EmailTranslations,
  errorResponses,
  IdParam,
  json,
  jsonBody,
  listOf,
  SendWindow,
} from "./schemas";

const fields = {
  parent_id: z.string().nullable().openapi({ description: "null for a root activity", example: null }),
  name: z.string().min(1).max(200).openapi({ example: "Welcome e-mail" }),
  on: ActivityOn.nullable(),
  condition: Domain.nullable(),
  delay: z.string().max(64).nullable().openapi({ description: "ISO 8601 duration", example: "P2D" }),
  action: ActivityAction.nullable(),
  email_from: z.string().max(320).nullable(),
  email_title: z.string().max(1000).nullable().openapi({ example: "Welcome, {{party.name}}" }),
  settings: ActionSettings.nullable(),
  weight: z
    .number()
    .int()
    .nullable()
    .openapi({ description: 'required when on is "split": the branch weight (1-1000)' }),
  email_template: z.string().max(200_000).nullable().openapi({
    example:
      '<p>Hello {{party.name}}</p><a href="https://shop.example/">Shop</a> <a href="unsubscribe">Unsubscribe</a>',
  }),
  email_translations: EmailTranslations.nullable(),
  send_window: SendWindow.nullable().openapi({ description: "overrides the scenario's send window" }),
};

const ActivityCreate = z.object(fields).partial().required({ name: true }).strict().openapi("ActivityInput");
const ActivityPatch = z.object(fields).partial().strict().openapi("ActivityPatch");

function parentId(text: string | null | undefined): number | null {
  if (text == null) return null;
  const id = parseId(text);
  if (id === null) throw invalid(`parent_id: activity ${JSON.stringify(text)} does not exist`);
  return id;
}

/** API fields (snake_case) to the engine's input; only the fields present are mapped. */
function toInput(body: z.infer<typeof ActivityPatch>): Partial<ActivityInput> {
  const out: Partial<ActivityInput> = {};
  if (body.parent_id !== undefined) out.parentId = parentId(body.parent_id);
  if (body.name !== undefined) out.name = body.name;
  if (body.on !== undefined) out.on = body.on;
  if (body.condition !== undefined) out.condition = body.condition;
  if (body.delay !== undefined) out.delay = body.delay;
  if (body.action !== undefined) out.action = body.action;
  if (body.email_from !== undefined) out.emailFrom = body.email_from;
  if (body.email_title !== undefined) out.emailTitle = body.email_title;
  if (body.email_template !== undefined) out.emailTemplate = body.email_template;
  if (body.email_translations !== undefined) out.emailTranslations = body.email_translations;
  if (body.send_window !== undefined) out.sendWindow = body.send_window as ActivityInput["sendWindow"];
  if (body.settings !== undefined) out.settings = body.settings;
  if (body.weight !== undefined) out.weight = body.weight;
  return out;
}

export const activitiesApi = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/scenarios/{id}/activities",
      tags: ["Activities"],
      summary: "Create an activity (parent_id null for a root)",
      description:
        "Adds an activity to the tree. The rules are checked on saving (a 400 naming the field): templates parse, event branches (on) sit under a send_email parent, and email_opened / email_not_opened need the parent's open tracking (settings.open_tracking).",
      request: { params: IdParam, body: jsonBody(ActivityCreate) },
      responses: {
        201: json(Activity, "Created"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const scenarioId = idOr404(c.req.valid("param").id, "scenario");
      const input = {
        parentId: null,
        on: null,
        condition: null,
        delay: null,
        action: null,
        emailFrom: null,
        emailTitle: null,
        emailTemplate: null,
        emailTranslations: null,
        sendWindow: null,
        settings: null,
        weight: null,
        ...toInput(c.req.valid("json")),
      } as ActivityInput;
      return c.json(presentActivity(await createActivity(c.get("engine"), scenarioId, input)), 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/activities",
      tags: ["Activities"],
      summary: "The scenario's activity tree, depth-first (parents before their children), with stats",
      description:
        "Every activity of the scenario in depth-first order, with its counts, open and click rates and conversions.",
      request: { params: IdParam },
      responses: {
        200: json(listOf(Activity, "ActivityList"), "The tree"),
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const scenarioId = idOr404(c.req.valid("param").id, "scenario");
      const items = await listActivityTree(c.get("engine"), scenarioId);
      return c.json({ items: items.map(presentActivity), next_cursor: null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/activities/{id}",
      tags: ["Activities"],
      summary: "One activity with its stats",
      description: "The activity's settings with its counts and rates; 404 when there is none.",
      request: { params: IdParam },
      responses: { 200: json(Activity, "The activity"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "activity");
      return c.json(presentActivity(await getActivity(c.get("engine"), id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/activities/{id}",
      tags: ["Activities"],
      summary: "Change an activity (the same rules as on creation, and no cycles)",
      description:
        "Moving an activity that reacts to an e-mail event (on set), or changing its on, is refused (409) while record " +
        "activities of it wait: they would react to the wrong e-mail. Other changes apply at once; a new delay applies " +
        "to record activities created after the change.",
      request: { params: IdParam, body: jsonBody(ActivityPatch) },
      responses: {
        200: json(Activity, "Updated"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
        409: errorResponses[409],
      },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "activity");
      return c.json(presentActivity(await updateActivity(c.get("engine"), id, toInput(c.req.valid("json")))), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/activities/{id}",
      tags: ["Activities"],
      summary: "Delete an activity and its whole subtree",
      description:
        "Removes the activity, its descendants and their record activities, waiting or done: their history goes with them.",
      request: { params: IdParam },
      responses: {
        200: json(z.object({ deleted: z.array(z.string()) }).openapi("DeletedActivities"), "The ids deleted"),
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "activity");
      const ids = await deleteActivity(c.get("engine"), id);
      return c.json({ deleted: ids.map(String) }, 200);
    },
  );
