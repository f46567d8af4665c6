import { createRoute, z } from "@hono/zod-openapi";
import { SUPPRESSION_REASONS, type SuppressionReason } from "../db/schema";
import {
  addSuppression,
  getSuppression,
  listSuppressions,
  removeSuppression,
  type Suppression,
} from "../engine/recipients/suppressions";
import { router } from "../http/router";
import { iso } from "../ids";
import { presentPage } from "./present";
import { errorResponses, json, jsonBody, listOf, Page, Timestamp } from "./schemas";

const Reason = z.enum(SUPPRESSION_REASONS as [SuppressionReason, ...SuppressionReason[]], {
  error: `must be one of ${SUPPRESSION_REASONS.join(", ")}`,
});

const SuppressionOut = z
  .object({
    address: z.string().openapi({ example: "michael@example.com" }),
    reason: Reason,
    source: z.string().nullable().openapi({ description: "the delivery event, or the note given when added by hand" }),
    created_at: Timestamp,
  })
  .openapi("Suppression");

const SuppressionIn = z
  .object({
    address: z.string().min(1).max(320).openapi({ example: "michael@example.com" }),
    reason: Reason.default("manual"),
    source: z.string().max(500).optional(),
  })
  .strict()
  .openapi("SuppressionInput");

const AddressParam = z.object({
  address: z.string().openapi({ param: { name: "address", in: "path" }, example: "michael@example.com" }),
});

const present = (s: Suppression) => ({
  address: s.address,
  reason: s.reason,
  source: s.source,
  created_at: iso(s.createdAt) as string,
});

export const suppressionsApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/suppressions",
      tags: ["Suppressions"],
      summary: "The suppression list (addresses never sent to), by address",
      description: "A page of the addresses no e-mail is sent to, with why and since when.",
      request: { query: Page.extend({ reason: Reason.optional() }).strict() },
      responses: {
        200: json(listOf(SuppressionOut, "SuppressionList"), "A page of the list"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const { limit, cursor, reason } = c.req.valid("query");
      const page = await listSuppressions(c.get("engine").db, { limit, cursor: cursor ?? null, reason });
      return c.json(presentPage(page, present), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/suppressions",
      tags: ["Suppressions"],
      summary: "Put an address on the list (safe to repeat: the first entry is kept)",
      description: "Adds an address by hand (reason manual). Repeating it keeps the first entry.",
      request: { body: jsonBody(SuppressionIn) },
      responses: {
        200: json(SuppressionOut, "Already on the list"),
        201: json(SuppressionOut, "Added"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const input = c.req.valid("json");
      const { suppression, created } = await addSuppression(
        c.get("engine").db,
        { address: input.address, reason: input.reason, source: input.source ?? null },
        Date.now(),
      );
      return c.json(present(suppression), created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/suppressions/{address}",
      tags: ["Suppressions"],
      summary: "One address on the list",
      description: "Why and since when the address is suppressed; 404 when it is not on the list.",
      request: { params: AddressParam },
      responses: {
        200: json(SuppressionOut, "On the list"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => c.json(present(await getSuppression(c.get("engine").db, c.req.valid("param").address)), 200),
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/suppressions/{address}",
      tags: ["Suppressions"],
      summary: "Take an address off the list: it may be sent to again",
      description: "E-mails may be sent to the address again; 404 when it was not on the list.",
      request: { params: AddressParam },
      responses: {
        204: { description: "Removed" },
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      await removeSuppression(c.get("engine").db, c.req.valid("param").address);
      return c.body(null, 204);
    },
  );
