import { z } from "@hono/zod-openapi";
import { BUILT_IN_ACTION_NAMES } from "../actions/registry";

/** Shared schemas of the admin API: they validate requests and describe the OpenAPI document. */

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_input" }),
      message: z.string().openapi({ example: 'domain[1][1]: unknown operator "=="' }),
    }),
  })
  .openapi("Error");

export const Domain = z.array(z.unknown()).openapi("Domain", {
  description:
    'A Tryton-style filter: [] matches every record; [[field, operator, value], …] is an AND; ["OR", clause, …] an OR. ' +
    'Operators: = != < <= > >= in "not in" like ilike "not like" "not ilike". A value may be {"now": "-P30D"}.',
  example: [
    ["state", "=", "confirmed"],
    ["party.email", "!=", null],
  ],
});

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-27T14:00:00.000Z" });
export const Id = z.string().openapi({ example: "42" });

export const Page = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "page size (1-500)", example: 50 }),
  cursor: z.string().max(300).optional().openapi({ description: "next_cursor of the previous page" }),
});

export function listOf<T extends z.ZodTypeAny>(item: T, name: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}

/**
 * Where data older than the retention window lives, on every read that answers only for what is in D1 (reports,
 * record activities, e-mails). Absent when retention is off (RETENTION_DAYS empty: everything is in D1).
 */
export const RetentionNote = z
  .object({
    window_days: z.number().int().openapi({ description: "RETENTION_DAYS: how long rows stay in D1", example: 30 }),
    retained_before: Timestamp.openapi({
      description:
        "finished record activities, e-mails and hits from before this instant are no longer in D1 (scenario records are)",
    }),
    location: z.string().openapi({ example: "R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/" }),
    listing: z.string().openapi({
      description: "the route listing one day's export objects",
      example: "GET /api/retention/{day}",
    }),
    note: z.string().openapi({ description: "the same in one sentence, as the console shows it" }),
  })
  .openapi("RetentionNote")
  .optional()
  .openapi({
    description:
      "where data older than the retention window lives (RETENTION_DAYS); absent when retention is off, since " +
      "everything is then in D1",
  });

/** A page of a list that answers only for what is in D1, with where older rows are (RetentionNote). */
export function retainedListOf<T extends z.ZodTypeAny>(item: T, name: string) {
  return z.object({ items: z.array(item), next_cursor: z.string().nullable(), retention: RetentionNote }).openapi(name);
}

export const IdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "1" }) });

export const ScenarioState = z.enum(["draft", "running", "stopped"]);
export const ActivityOn = z
  .enum([
    "email_opened",
    "email_not_opened",
    "email_clicked",
    "email_not_clicked",
    "email_bounced",
    "subscription_confirmed",
    "subscription_not_confirmed",
    "split",
    "record_changed",
    "record_not_changed",
  ])
  .openapi({
    description:
      'when the activity runs after its parent; "email_bounced": once the e-mail hard-bounces or is rejected; "split": one weighted branch of a random split; "record_changed": once the record is written and matches the condition; "record_not_changed": at the deadline (delay) unless a record_changed sibling ran; "subscription_confirmed" / "subscription_not_confirmed": once the recipient confirms the subscription, or at the deadline unless it did (double opt-in)',
  });
export const ActivityAction = z.enum(BUILT_IN_ACTION_NAMES).openapi({
  description: "what the activity does (see docs/engine.md): send_email, webhook, update_record; null for nothing",
});

export const ActionSettings = z.record(z.string(), z.unknown()).openapi({
  description:
    'the action\'s settings: webhook {"url", "timeout_seconds"?}, update_record {"fields": {…}}; send_email uses the ' +
    'email_* fields and takes only {"open_tracking": true | false} (the open pixel; off by default for a confirmation ' +
    "e-mail; off, its email_opened / email_not_opened children are refused)",
  example: { url: "https://hooks.example/marketing" },
});
export const RecordActivityState = z.enum(["waiting", "running", "done", "cancelled", "failed"]);

export const SendWindow = z
  .object({
    start: z.string().openapi({ example: "09:00" }),
    end: z.string().openapi({ example: "18:00" }),
    days: z
      .array(z.string())
      .optional()
      .openapi({ example: ["mon", "tue", "wed", "thu", "fri"] }),
  })
  .passthrough()
  .openapi("SendWindow", {
    description:
      "Local hours [start, end) in the recipient's time zone (the party's `tz`, else the scenario's `time_zone`), on the " +
      "given days (mon … sun; every day when omitted). Work due outside waits for the next opening.",
  });

export const FrequencyCap = z
  .object({
    max: z.number().int().openapi({ example: 2 }),
    period: z.string().openapi({ example: "P1D" }),
  })
  .strict()
  .openapi("FrequencyCap", {
    description: "At most `max` e-mails per recipient in any rolling `period` (days and times, up to P31D).",
  });

export const EmailTranslations = z
  .record(z.string(), z.object({ email_title: z.string().max(1000), email_template: z.string().max(200_000) }).strict())
  .openapi("EmailTranslations", {
    description:
      "Other language versions: language tag → subject and body. The party's `lang` picks one through the fallback " +
      "chain (fr_CA → fr → the activity's own email_title / email_template). An activity's templates, translations, " +
      "condition and settings take at most 1,000,000 bytes together (400 beyond).",
    example: { fr: { email_title: "Bonjour {{party.name}}", email_template: "<p>Merci !</p>" } },
  });

export const Model = z
  .object({ name: z.string(), party_field: z.string().nullable(), built_in: z.boolean() })
  .openapi("Model");

export const RecordOut = z
  .object({
    model: z.string(),
    id: z.string(),
    fields: z.record(z.string(), z.unknown()),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Record");

export const Scenario = z
  .object({
    id: Id,
    name: z.string(),
    model: z.string(),
    domain: Domain,
    unsubscribable: z.boolean(),
    send_window: SendWindow.nullable(),
    time_zone: z.string().nullable(),
    frequency_cap: FrequencyCap.nullable(),
    topics: z.array(z.string()),
    double_opt_in: z.boolean().openapi({
      description:
        "requires a confirmed subscription: the scenario runs only when every root is a confirmation e-mail " +
        '(href="confirm") and everything else waits for "subscription_confirmed"',
    }),
    goal: Domain.nullable(),
    state: ScenarioState,
    record_count: z.number().int(),
    record_count_blocked: z.number().int(),
    block_rate: z.number(),
    record_count_confirmed: z
      .number()
      .int()
      .openapi({ description: "records whose recipient confirmed the subscription (double opt-in scenarios)" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Scenario");

export const Activity = z
  .object({
    id: Id,
    scenario_id: Id,
    parent_id: Id.nullable(),
    name: z.string(),
    on: ActivityOn.nullable(),
    condition: Domain.nullable(),
    delay: z.string().nullable().openapi({ example: "P2D" }),
    action: ActivityAction.nullable(),
    email_from: z.string().nullable(),
    email_title: z.string().nullable(),
    email_template: z.string().nullable(),
    email_translations: EmailTranslations.nullable(),
    send_window: SendWindow.nullable(),
    settings: ActionSettings.nullable(),
    open_tracking: z
      .boolean()
      .nullable()
      .openapi({
        description:
          "send_email: whether its e-mail carries the open pixel (settings.open_tracking, else on except for a " +
          'confirmation e-mail with a href="confirm" link); null for other actions',
      }),
    weight: z.number().int().nullable(),
    split_share: z.number().nullable().openapi({
      description: "for a split branch: its weight over the weights of its split siblings (rounded to 2 decimals)",
    }),
    record_count: z.number().int().openapi({ description: "its record activities done" }),
    waiting_count: z.number().int().openapi({ description: "its record activities not finished: waiting or running" }),
    cancelled_count: z.number().int().openapi({ description: "its record activities cancelled" }),
    failed_count: z.number().int().openapi({ description: "its record activities failed" }),
    email_opened: z.number().int(),
    email_clicked: z.number().int(),
    email_open_rate: z.number(),
    email_click_rate: z.number(),
    email_click_through_rate: z.number(),
    conversions: z.number().int().openapi({
      description: "records that reached the scenario's goal with this activity's e-mail as the last one they clicked",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Activity");

export const ScenarioRecord = z
  .object({
    id: Id,
    scenario_id: Id,
    model: z.string(),
    record_id: z.string(),
    party_id: z.string().nullable(),
    blocked: z.boolean(),
    goal_reached_at: Timestamp.nullable().openapi({ description: "when the record reached the scenario's goal" }),
    goal_activity_id: Id.nullable().openapi({ description: "the activity the conversion is attributed to" }),
    created_at: Timestamp,
  })
  .openapi("ScenarioRecord");

export const RecordActivity = z
  .object({
    id: Id,
    scenario_record_id: Id,
    activity_id: Id,
    state: RecordActivityState.openapi({
      description: "running: a claim holds it, it is being executed (the activity's waiting_count counts it)",
    }),
    at: Timestamp.nullable().openapi({ description: "due time while waiting, execution time once done" }),
    due_at: Timestamp.nullable().openapi({ description: "when it was (last) due; kept after execution" }),
    email_opened: z.boolean(),
    email_clicked: z.boolean(),
    reason: z.string().nullable(),
    attempts: z.number().int(),
  })
  .openapi("RecordActivity");

export const Confirmation = z
  .object({
    scenario_record_id: Id,
    record_id: z.string(),
    party_id: z.string().nullable(),
    client: z
      .string()
      .nullable()
      .openapi({ description: "browser family, country and network of the confirming request; never the IP address" }),
    confirmed_at: Timestamp,
  })
  .openapi("Confirmation");

/** Standard error responses, added to every route's documentation. */
export const errorResponses = {
  400: { description: "Invalid input", content: { "application/json": { schema: ErrorBody } } },
  401: { description: "No or wrong bearer token", content: { "application/json": { schema: ErrorBody } } },
  404: { description: "Unknown id", content: { "application/json": { schema: ErrorBody } } },
  409: { description: "Wrong state", content: { "application/json": { schema: ErrorBody } } },
} as const;

export const json = <T extends z.ZodTypeAny>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const jsonBody = <T extends z.ZodTypeAny>(schema: T) => ({
  required: true,
  content: { "application/json": { schema } },
});
