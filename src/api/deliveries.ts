import { createRoute, z } from "@hono/zod-openapi";
import { DELIVERY_EVENT_KINDS, type DeliveryEventKind } from "../db/schema";
import { type DeliveryEventInput, deliveryEventsPage } from "../engine/recipients/deliveries";
import { invalid } from "../errors";
import { router } from "../http/router";
import { iso, parseId } from "../ids";
import { acceptDeliveryEvents } from "../queues/delivery-events";
import { errorResponses, Id, json, jsonBody, listOf, Page, Timestamp } from "./schemas";

/** Events one request carries at most (and the 8 MiB body: about 6,000 with 1,000-character details). */
export const MAX_EVENTS = 10_000;

const Kind = z.enum(DELIVERY_EVENT_KINDS as [DeliveryEventKind, ...DeliveryEventKind[]], {
  error: `must be one of ${DELIVERY_EVENT_KINDS.join(", ")}`,
});

const EventIn = z
  .object({
    id: z.string().min(1).max(200).openapi({ description: "unique per event: the same id twice is one event" }),
    kind: Kind,
    provider_message_id: z.string().min(1).max(500).optional().openapi({
      description: "the e-mail by the provider's id of the message (as in GET /api/emails)",
    }),
    email_id: z
      .string()
      .refine((v) => parseId(v) !== null, {
        error: "must be an e-mail id: a positive integer below 2^53, as the API gives it",
      })
      .optional(),
    at: z.iso.datetime({ error: "must be an ISO 8601 UTC time" }).optional().openapi({ description: "default: now" }),
    provider: z.string().min(1).max(50).optional().openapi({ example: "sendgrid" }),
    detail: z.string().max(1000).optional().openapi({ example: "550 5.1.1 mailbox does not exist" }),
  })
  .strict()
  .openapi("DeliveryEventInput");

const EventsIn = z
  .object({ events: z.array(EventIn).min(1).max(MAX_EVENTS) })
  .strict()
  .openapi("DeliveryEvents");

const Accepted = z
  .object({
    accepted: z.number().int(),
    recorded: z
      .object({
        recorded: z.number().int(),
        duplicates: z.number().int(),
        suppressed: z.number().int(),
        bounced_children: z.number().int(),
      })
      .nullable()
      .openapi({ description: "null: queued, recorded by the queue consumer within seconds" }),
  })
  .openapi("DeliveryEventsAccepted");

const EventOut = z
  .object({
    id: Id,
    event_id: z.string(),
    email_id: Id,
    record_activity_id: Id,
    kind: Kind,
    address: z.string(),
    detail: z.string().nullable(),
    provider: z.string(),
    at: Timestamp,
    received_at: Timestamp,
  })
  .openapi("DeliveryEvent");

const EventsQuery = Page.extend({
  email_id: z
    .string()
    .optional()
    .openapi({ param: { name: "email_id", in: "query" } }),
  record_activity_id: z
    .string()
    .optional()
    .openapi({ param: { name: "record_activity_id", in: "query" } }),
}).strict();

/** The cursor of a page of events: `{at}.{id}` of the last event of the previous page. */
function parseCursor(cursor: string | undefined): { at: number; id: number } | null {
  if (cursor === undefined) return null;
  const m = /^(-?[0-9]{1,16})\.([0-9]{1,16})$/.exec(cursor);
  const at = Number(m?.[1]);
  const id = Number(m?.[2]);
  if (!m || !Number.isSafeInteger(at) || !Number.isSafeInteger(id))
    throw invalid("cursor: not a cursor this list gave");
  return { at, id };
}

export const deliveriesApi = router()
  .openapi(
    createRoute({
      method: "post",
      path: "/deliveries/events",
      tags: ["Deliveries"],
      summary:
        "Delivery events from any provider: delivered, soft_bounce, hard_bounce, complaint, rejected, unsubscribe",
      description:
        "All or nothing: an event whose e-mail is not in the archive refuses the request (404). Accepted events are " +
        "queued (202) and recorded once each; a repeated event id changes nothing.",
      request: { body: jsonBody(EventsIn) },
      responses: {
        202: json(Accepted, "Accepted"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const events: DeliveryEventInput[] = body.events.map((ev, i) => {
        if ((ev.provider_message_id === undefined) === (ev.email_id === undefined)) {
          throw invalid(`events[${i}]: give either provider_message_id or email_id`);
        }
        return {
          eventId: ev.id,
          kind: ev.kind,
          provider: ev.provider ?? "api",
          providerMessageId: ev.provider_message_id ?? null,
          emailId: ev.email_id === undefined ? null : parseId(ev.email_id),
          at: ev.at === undefined ? Date.now() : Date.parse(ev.at),
          detail: ev.detail ?? null,
        };
      });
      const field = (i: number) =>
        `events[${i}].${body.events[i]?.email_id !== undefined ? "email_id" : "provider_message_id"}`;
      const result = await acceptDeliveryEvents(c.env, events, field, c.executionCtx);
      return c.json({ accepted: result.accepted, recorded: result.counts }, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/deliveries/events",
      tags: ["Deliveries"],
      summary: "The delivery events of one e-mail or record activity, oldest first, a page at a time",
      description:
        "Delivered, bounced, complained or unsubscribed, as the provider reported them for one e-mail or record activity.",
      request: { query: EventsQuery },
      responses: {
        200: json(listOf(EventOut, "DeliveryEventList"), "A page of the events"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const emailId = q.email_id === undefined ? null : parseId(q.email_id);
      const raId = q.record_activity_id === undefined ? null : parseId(q.record_activity_id);
      if (q.email_id !== undefined && emailId === null) throw invalid("email_id: must be an e-mail id");
      if (q.record_activity_id !== undefined && raId === null) {
        throw invalid("record_activity_id: must be a record activity id");
      }
      if (emailId === null && raId === null) throw invalid("email_id or record_activity_id: one is required (an id)");
      const page = await deliveryEventsPage(
        c.env.DB,
        emailId !== null ? { emailId } : { recordActivityId: raId as number },
        { limit: q.limit, after: parseCursor(q.cursor) },
      );
      const rows = page.items;
      const items = rows.map((r) => ({
        id: String(r.id),
        event_id: r.event_id,
        email_id: String(r.email_id),
        record_activity_id: String(r.record_activity_id),
        kind: r.kind,
        address: r.address,
        detail: r.detail,
        provider: r.provider,
        at: iso(r.at) as string,
        received_at: iso(r.received_at) as string,
      }));
      const next = page.nextCursor ? `${page.nextCursor.at}.${page.nextCursor.id}` : null;
      return c.json({ items, next_cursor: next }, 200);
    },
  );
