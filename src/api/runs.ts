import { createRoute, z } from "@hono/zod-openapi";
import { recordEmailEvent } from "../engine/reactions/email-events";
import { blockScenarioRecord, unblockScenarioRecord } from "../engine/recipients/blocking";
import { listConfirmations } from "../engine/recipients/confirmations";
import { retentionNoteOf } from "../engine/retention/retention";
import { EXPORT_COLUMNS, type ExportFormat, exportScenarioResults } from "../engine/runs/export";
import { getRecordActivity, getScenarioRecord, listRecordActivities, listScenarioRecords } from "../engine/runs/runs";
import { invalid } from "../errors";
import { idOr404, numericCursor, router } from "../http/router";
import { iso, parseId } from "../ids";
import { presentPage, presentRecordActivity, presentScenarioRecord } from "./present";
import {
  Confirmation,
  errorResponses,
  IdParam,
  json,
  listOf,
  Page,
  RecordActivity,
  RecordActivityState,
  retainedListOf,
  ScenarioRecord,
} from "./schemas";

const BoolQuery = z
  .enum(["true", "false"], { error: 'must be "true" or "false"' })
  .optional()
  .transform((v) => (v === undefined ? undefined : v === "true"));

function optionalId(text: string | undefined, field: string): number | undefined {
  if (text === undefined) return undefined;
  const id = parseId(text);
  if (id === null) throw invalid(`${field}: not an id`);
  return id;
}

const block = (action: "block" | "unblock", summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/scenario-records/{id}/${action}`,
    tags: ["Runs"],
    summary,
    description,
    request: { params: IdParam },
    responses: { 200: json(ScenarioRecord, "The scenario record"), 401: errorResponses[401], 404: errorResponses[404] },
  });

const event = (kind: "opened" | "clicked", summary: string, description: string) =>
  createRoute({
    method: "post",
    path: `/record-activities/{id}/${kind}`,
    tags: ["Runs"],
    summary,
    description,
    request: { params: IdParam },
    responses: {
      200: json(RecordActivity.extend({ changed: z.boolean() }).openapi("EventResult"), "The record activity"),
      401: errorResponses[401],
      404: errorResponses[404],
      409: errorResponses[409],
    },
  });

export const runsApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/records",
      tags: ["Runs"],
      summary: "The scenario's records (those that entered it)",
      description: "A page of the records that entered the scenario, with whether each is blocked.",
      request: { params: IdParam, query: Page.extend({ blocked: BoolQuery }).strict() },
      responses: {
        200: json(listOf(ScenarioRecord, "ScenarioRecordList"), "A page of scenario records"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const scenarioId = idOr404(c.req.valid("param").id, "scenario");
      const q = c.req.valid("query");
      const page = await listScenarioRecords(c.get("engine"), scenarioId, {
        limit: q.limit,
        cursor: numericCursor(q.cursor),
        blocked: q.blocked,
      });
      return c.json(presentPage(page, presentScenarioRecord), 200);
    },
  )
  .openapi(
    block(
      "block",
      "Block a scenario record (and unsubscribe its party if the scenario is unsubscribable)",
      "Its waiting record activities stay waiting and run nothing until it is unblocked.",
    ),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "scenario record");
      await blockScenarioRecord(e, id);
      return c.json(presentScenarioRecord(await getScenarioRecord(e, id)), 200);
    },
  )
  .openapi(
    block(
      "unblock",
      "Unblock a scenario record: its waiting record activities resume",
      "Its waiting record activities run again as they come due (those already due, soon after).",
    ),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "scenario record");
      await unblockScenarioRecord(e, id);
      return c.json(presentScenarioRecord(await getScenarioRecord(e, id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/record-activities",
      tags: ["Runs"],
      summary: "The scenario's record activities",
      description:
        "In enrollment order: by scenario record (the first enrolled first), then by activity id; `next_cursor` is the " +
        "last record activity's id (refused with 400 once that record activity left D1: list again). Finished record activities older than the retention window (RETENTION_DAYS) are not listed: they were " +
        "exported to R2 and removed from D1. `retention` says since when and where (null: retention is off).",
      request: {
        params: IdParam,
        query: Page.extend({
          state: RecordActivityState.optional(),
          activity_id: z.string().optional(),
          scenario_record_id: z.string().optional(),
        }).strict(),
      },
      responses: {
        200: json(retainedListOf(RecordActivity, "RecordActivityList"), "A page of record activities"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const scenarioId = idOr404(c.req.valid("param").id, "scenario");
      const q = c.req.valid("query");
      const page = await listRecordActivities(c.get("engine"), scenarioId, {
        limit: q.limit,
        cursor: numericCursor(q.cursor),
        state: q.state,
        activityId: optionalId(q.activity_id, "activity_id"),
        scenarioRecordId: optionalId(q.scenario_record_id, "scenario_record_id"),
      });
      return c.json(
        {
          ...presentPage(page, presentRecordActivity),
          retention: retentionNoteOf(c.get("engine")),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/export",
      tags: ["Runs"],
      summary: "The scenario's results, one row per recipient, as CSV or JSON lines (streamed, any size)",
      description:
        `One row per scenario record, in enrollment order: ${EXPORT_COLUMNS.join(", ")}. \`activities\` names ` +
        'the activities done for it (joined by "; " in CSV); `address` is where its e-mails went (else its party\'s ' +
        "`email`); `unsubscribed` is the scenario record blocked; `converted` the goal reached. CSV by default " +
        "(a header line, RFC 4180, a cell a spreadsheet would take for a formula starts with an apostrophe); JSON " +
        "lines with `?format=jsonl` or `Accept: application/x-ndjson`. Finished activities older than the " +
        "retention window (RETENTION_DAYS) were moved to R2 and are not listed.",
      request: {
        params: IdParam,
        query: z
          .object({ format: z.enum(["csv", "jsonl"], { error: 'must be "csv" or "jsonl"' }).optional() })
          .strict(),
      },
      responses: {
        200: {
          description: "The rows",
          content: {
            "text/csv": { schema: z.string().openapi({ example: `${EXPORT_COLUMNS.join(",")}\r\n` }) },
            "application/x-ndjson": { schema: z.string() },
          },
        },
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      const asked = c.req.valid("query").format;
      const accept = c.req.header("accept") ?? "";
      const format: ExportFormat =
        asked ??
        (/application\/(x-ndjson|jsonl|x-jsonlines)/.test(accept) && !/text\/csv/.test(accept) ? "jsonl" : "csv");
      const stream = await exportScenarioResults(c.get("engine"), id, format);
      return c.body(stream, 200, {
        "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="scenario-${id}.${format === "csv" ? "csv" : "jsonl"}"`,
        "cache-control": "no-store",
      });
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/scenarios/{id}/confirmations",
      tags: ["Runs"],
      summary: "The scenario's confirmed subscriptions (double opt-in): who confirmed, when, from what client",
      description:
        "One row per confirmation of a double opt-in scenario: the record, when, and the client's address and user agent.",
      request: { params: IdParam, query: Page.strict() },
      responses: {
        200: json(listOf(Confirmation, "ConfirmationList"), "A page of confirmations"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const scenarioId = idOr404(c.req.valid("param").id, "scenario");
      const q = c.req.valid("query");
      const page = await listConfirmations(c.get("engine"), scenarioId, {
        limit: q.limit,
        cursor: numericCursor(q.cursor),
      });
      return c.json(
        {
          ...presentPage(page, (r) => ({
            scenario_record_id: String(r.scenarioRecordId),
            record_id: r.recordId,
            party_id: r.partyId,
            client: r.client,
            confirmed_at: iso(r.confirmedAt) as string,
          })),
        },
        200,
      );
    },
  )
  .openapi(
    event(
      "opened",
      "Record that the e-mail was opened (once): email_opened children become due",
      "For an integration that learns of opens by other means; the open pixel records them without this call. A second call changes nothing.",
    ),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "record activity");
      const { changed } = await recordEmailEvent(e, id, "opened");
      return c.json({ ...presentRecordActivity(await getRecordActivity(e, id)), changed }, 200);
    },
  )
  .openapi(
    event(
      "clicked",
      "Record a click (once; it implies an open): email_clicked children become due",
      "For an integration that learns of clicks by other means; tracking links record them without this call. A second call changes nothing.",
    ),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "record activity");
      const { changed } = await recordEmailEvent(e, id, "clicked");
      return c.json({ ...presentRecordActivity(await getRecordActivity(e, id)), changed }, 200);
    },
  );
