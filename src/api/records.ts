import { createRoute, z } from "@hono/zod-openapi";
import { noteRecordWrites } from "../engine/enrollment/passes";
import { recordsWritten } from "../engine/records/record-changes";
import {
  deleteRecord,
  getRecord,
  listRecords,
  MAX_BATCH,
  putRecord,
  upsertRecordsChecked,
} from "../engine/records/records";
import { router } from "../http/router";
import { presentPage, presentRecord } from "./present";
import { errorResponses, json, jsonBody, listOf, Page, RecordOut } from "./schemas";

const ModelParam = z.object({ model: z.string().openapi({ param: { name: "model", in: "path" }, example: "party" }) });
const RecordParams = ModelParam.extend({
  id: z.string().openapi({ param: { name: "id", in: "path" }, example: "michael" }),
});
const Fields = z.record(z.string(), z.unknown()).openapi("RecordFields", {
  example: { name: "Michael Scott", email: "michael@example.com", lang: "en" },
});
const Batch = z
  .object({
    records: z
      // Each item is checked by the engine, so that ?mode=partial can report a bad one by its index.
      .array(z.unknown().openapi({ type: "object", additionalProperties: true }))
      .openapi({ description: `up to ${MAX_BATCH} records, each {id, …fields}` }),
  })
  .strict()
  .openapi("RecordBatch");
const BatchQuery = z
  .object({
    mode: z
      .enum(["all", "partial"], { error: 'must be "all" or "partial"' })
      .default("all")
      .openapi({
        description:
          '"all" (the default): the first bad record refuses the whole batch (400) and nothing is stored; ' +
          '"partial": the good records are stored and the bad ones reported by index in `rejected`',
      }),
  })
  .strict();
const BatchResult = z
  .object({
    upserted: z.number().int().openapi({ description: "records stored (created or replaced)" }),
    stored: z
      .array(z.string())
      .optional()
      .openapi({ description: "mode=partial: ids of the records stored, in the batch's order" }),
    rejected: z
      .array(
        z.object({
          index: z.number().int().openapi({ description: "position of the record in `records`" }),
          error: z.string().openapi({ example: "records[3].email: not an e-mail address" }),
        }),
      )
      .optional()
      .openapi({ description: "mode=partial: the records left out, by index, with the reason (empty: none)" }),
  })
  .openapi("BatchResult");

export const recordsApi = router()
  .openapi(
    createRoute({
      method: "put",
      path: "/records/{model}/{id}",
      tags: ["Records"],
      summary: "Create or replace one record; it is enrolled at once in the running scenarios it matches",
      description:
        "Writes the record's fields as given (the record's id is yours). A write may enroll the record in running scenarios whose domain it now matches, and reacts to record_changed branches and goals (docs/engine.md).",
      request: { params: RecordParams, body: jsonBody(Fields) },
      responses: {
        200: json(RecordOut, "Replaced"),
        201: json(RecordOut, "Created"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const e = c.get("engine");
      const { model, id } = c.req.valid("param");
      c.req.valid("json");
      const now = Date.now();
      await noteRecordWrites(e, model, now);
      // The body as parsed, not as validated: a schema copy would drop a `__proto__` key silently.
      const { record, created } = await putRecord(e.db, model, id, await c.req.json(), now);
      e.defer(recordsWritten(e, model, [id]));
      return c.json(presentRecord(record), created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/records/{model}/batch",
      tags: ["Records"],
      summary: `Upsert up to ${MAX_BATCH} records in one call: all or nothing, or (mode=partial) the good ones`,
      description:
        "Each record is `{id, …fields}`; the stored ones are enrolled in the running scenarios they match. By default " +
        "a bad record refuses the whole batch with 400 naming it (`records[3].email: …`); with `?mode=partial` the " +
        "good records are stored and each bad one is reported in `rejected` with its index and the reason.",
      request: { params: ModelParam, query: BatchQuery, body: jsonBody(Batch) },
      responses: {
        200: json(BatchResult, "Upserted"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const e = c.get("engine");
      const { model } = c.req.valid("param");
      c.req.valid("json");
      const body = (await c.req.json()) as { records: unknown };
      const now = Date.now();
      await noteRecordWrites(e, model, now);
      const partial = c.req.valid("query").mode === "partial";
      const { stored, rejected } = await upsertRecordsChecked(e.db, model, body.records, now, { partial });
      if (stored.length > 0) e.defer(recordsWritten(e, model, stored));
      return c.json(partial ? { upserted: stored.length, stored, rejected } : { upserted: stored.length }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/records/{model}",
      tags: ["Records"],
      summary: "List a model's records by id",
      description: "A page of the model's records in id order; follow next_cursor for the next page.",
      request: { params: ModelParam, query: Page.strict() },
      responses: {
        200: json(listOf(RecordOut, "RecordList"), "A page of records"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const { model } = c.req.valid("param");
      const { limit, cursor } = c.req.valid("query");
      const page = await listRecords(c.get("engine").db, model, { limit, cursor: cursor ?? null });
      return c.json(presentPage(page, presentRecord), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/records/{model}/{id}",
      tags: ["Records"],
      summary: "Read one record",
      description: "The record's fields and timestamps; 404 when there is none with that id.",
      request: { params: RecordParams },
      responses: { 200: json(RecordOut, "The record"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const { model, id } = c.req.valid("param");
      return c.json(presentRecord(await getRecord(c.get("engine").db, model, id)), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/records/{model}/{id}",
      tags: ["Records"],
      summary: "Delete one record (its waiting record activities are cancelled when due)",
      description: "Removes the record; its waiting record activities are cancelled when they come due, not at once.",
      request: { params: RecordParams },
      responses: { 204: { description: "Deleted" }, 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const { model, id } = c.req.valid("param");
      await deleteRecord(c.get("engine").db, model, id);
      return c.body(null, 204);
    },
  );
