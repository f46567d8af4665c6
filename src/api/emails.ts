import { createRoute, z } from "@hono/zod-openapi";
import { displayAddress } from "../email/headers";
import { retentionNoteOf } from "../engine/retention/retention";
import { type EmailRow, getEmail, getEmailRaw, listEmails } from "../engine/runs/emails";
import { previewActivityEmail } from "../engine/scenarios/preview";
import type { Address } from "../env";
import { AppError } from "../errors";
import { idOr404, router } from "../http/router";
import { iso, parseId } from "../ids";
import { presentPage } from "./present";
import { errorResponses, Id, IdParam, json, jsonBody, Page, retainedListOf, Timestamp } from "./schemas";

const EmailStatus = z.enum(["sending", "sent", "retry", "failed", "abandoned"]);

const EmailSummary = z
  .object({
    id: Id,
    scenario_id: Id,
    activity_id: Id,
    record_activity_id: Id,
    to: z.string().openapi({ example: '"Michael Scott" <michael@example.com>' }),
    from: z.string().openapi({ example: "Marketing <marketing@example.com>" }),
    subject: z.string(),
    message_id: z.string().openapi({
      description: "the Message-ID sent: `<{id}.{mac}@{domain of from}>` (e-mails sent before: as they were sent)",
      example: "<48213.Qx0b2yDI0msYF43D@example.com>",
    }),
    provider_message_id: z.string().nullable().openapi({
      description:
        "the provider's id of the accepted message (MailChannels' request id), which its delivery events name",
      example: "wBLWrCnK0Z965pf-cgxhNg8bo5s=",
    }),
    transport: z.string().openapi({ example: "cloudflare" }),
    status: EmailStatus,
    error: z.string().nullable(),
    attempt: z.number().int(),
    sent_at: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .openapi("Email");

const EmailDetail = EmailSummary.extend({
  html: z.string().nullable().openapi({ description: "the HTML body as sent; null if the body is not in the archive" }),
  text: z.string().nullable().openapi({ description: "the plain-text alternative as sent" }),
  headers: z.record(z.string(), z.string()).openapi({ description: "header name → value, decoded" }),
}).openapi("EmailDetail");

const idFilter = (name: string) =>
  z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, { error: `${name}: must be an id` })
    .optional()
    .openapi({ param: { name, in: "query" }, example: "1" });

const EmailQuery = Page.extend({
  scenario_id: idFilter("scenario_id"),
  activity_id: idFilter("activity_id"),
  record_activity_id: idFilter("record_activity_id"),
  status: EmailStatus.optional(),
}).strict();

const PreviewInput = z
  .object({
    record_model: z.string().min(1).openapi({ example: "party" }),
    record_id: z.string().min(1).openapi({ example: "michael" }),
    lang: z.string().max(35).optional().openapi({
      description: "render this language version (through the fallback chain) instead of the party's `lang`",
      example: "fr_CA",
    }),
  })
  .strict()
  .openapi("PreviewInput");

const PreviewOut = z
  .object({
    lang: z.string().nullable().openapi({ description: "the language version shown; null for the default version" }),
    subject: z.string(),
    from: z.string(),
    to: z.string().nullable().openapi({ description: "null when the party has no e-mail address" }),
    reply_to: z.string().nullable(),
    html: z.string(),
    text: z.string(),
  })
  .openapi("EmailPreview");

const presentEmail = (m: EmailRow) => ({
  id: String(m.id),
  scenario_id: String(m.scenarioId),
  activity_id: String(m.activityId),
  record_activity_id: String(m.recordActivityId),
  to: m.to,
  from: m.from,
  subject: m.subject,
  message_id: m.messageId,
  provider_message_id: m.providerMessageId,
  transport: m.transport,
  status: m.status,
  error: m.error,
  attempt: m.attempt,
  sent_at: iso(m.sentAt),
  created_at: iso(m.createdAt) as string,
});

const optionalId = (text: string | undefined) => (text === undefined ? undefined : (parseId(text) ?? undefined));
const address = (a: Address | null) => (a === null ? null : displayAddress(a));

export const emailsApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/emails",
      tags: ["E-mails"],
      summary: "The e-mail archive, newest first: one row per delivery attempt",
      description:
        "Unfiltered, by `status` or by `record_activity_id`: by id, highest first (a record activity's first attempt " +
        "has the record activity's id, later attempts ids from 2^52 up), `next_cursor` being the last e-mail's id. " +
        "By `scenario_id` or `activity_id`: by record activity, the newest scenario record (the last enrolled) first, " +
        "its record activities by activity id, highest first, each with its e-mails newest first; " +
        "`next_cursor` is then `{record activity id}-{e-mail id}` (refused with 400 once that record activity left D1: " +
        "list again). Such a page reads at most 1,000 record activities, " +
        "so it may hold fewer e-mails than `limit`, or none, and still have a `next_cursor`: follow it until it is " +
        "null. E-mails older than the retention window (RETENTION_DAYS) are not listed: with their hits they were " +
        "exported to R2 as daily NDJSON and removed from D1. `retention` says since when and where (null: retention " +
        "is off).",
      request: { query: EmailQuery },
      responses: {
        200: json(retainedListOf(EmailSummary, "EmailList"), "A page of e-mails"),
        400: errorResponses[400],
        401: errorResponses[401],
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const page = await listEmails(c.get("engine"), {
        scenarioId: optionalId(q.scenario_id),
        activityId: optionalId(q.activity_id),
        recordActivityId: optionalId(q.record_activity_id),
        status: q.status,
        limit: q.limit,
        cursor: q.cursor ?? null,
      });
      return c.json(
        {
          ...presentPage(page, presentEmail),
          retention: retentionNoteOf(c.get("engine")),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/emails/{id}",
      tags: ["E-mails"],
      summary: "One archived e-mail with its HTML, text and headers",
      description:
        "The e-mail as sent: HTML with its tracking links, the plain text, the headers and how the transport answered. 404 when it is not in D1 (see retention).",
      request: { params: IdParam },
      responses: { 200: json(EmailDetail, "The e-mail"), 401: errorResponses[401], 404: errorResponses[404] },
    }),
    async (c) => {
      const e = c.get("engine");
      const id = idOr404(c.req.valid("param").id, "e-mail");
      const { email, body } = await getEmail(e, id).catch((err) => {
        // With retention on, an e-mail that is not in D1 may have left it: say where older ones are.
        const retention = retentionNoteOf(e);
        if (!(err instanceof AppError) || err.code !== "not_found" || !retention) throw err;
        throw new AppError("not_found", `${err.message}. ${retention.note}`);
      });
      return c.json(
        { ...presentEmail(email), html: body?.html ?? null, text: body?.text ?? null, headers: email.headers },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/emails/{id}/raw",
      tags: ["E-mails"],
      summary: "The raw message (RFC 5322) as handed to the transport",
      description: "The MIME message exactly as the transport received it (message/rfc822).",
      request: { params: IdParam },
      responses: {
        200: { description: "The message", content: { "message/rfc822": { schema: z.string() } } },
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "e-mail");
      const raw = await getEmailRaw(c.get("engine"), id);
      return c.body(raw, 200, { "content-type": "message/rfc822" });
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/activities/{id}/preview",
      tags: ["E-mails"],
      summary: "Render the activity's e-mail for one record, without sending (links keep their original URL)",
      description:
        "Renders subject, HTML and text for one record as it would be sent, in the party's language or the one asked; no key, no archive, no open pixel.",
      request: { params: IdParam, body: jsonBody(PreviewInput) },
      responses: {
        200: json(PreviewOut, "The rendered e-mail"),
        400: errorResponses[400],
        401: errorResponses[401],
        404: errorResponses[404],
      },
    }),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "activity");
      const body = c.req.valid("json");
      const p = await previewActivityEmail(c.get("engine"), id, {
        recordModel: body.record_model,
        recordId: body.record_id,
        lang: body.lang,
      });
      return c.json(
        {
          lang: p.lang,
          subject: p.subject,
          from: displayAddress(p.from),
          to: address(p.to),
          reply_to: address(p.replyTo),
          html: p.html,
          text: p.text,
        },
        200,
      );
    },
  );
