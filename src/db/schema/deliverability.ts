import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export type DeliveryEventKind = "delivered" | "soft_bounce" | "hard_bounce" | "complaint" | "rejected" | "unsubscribe";
export const DELIVERY_EVENT_KINDS: readonly DeliveryEventKind[] = [
  "delivered",
  "soft_bounce",
  "hard_bounce",
  "complaint",
  "rejected",
  "unsubscribe",
];

/**
 * What a provider reported about an e-mail after it accepted it. `eventId` is unique: the same event delivered twice
 * (providers retry webhooks) is recorded once and acts once.
 */
export const deliveryEvents = sqliteTable(
  "delivery_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    eventId: text("event_id").notNull().unique(),
    emailId: integer("email_id").notNull(),
    recordActivityId: integer("record_activity_id").notNull(),
    kind: text("kind").$type<DeliveryEventKind>().notNull(),
    /** The recipient's address as normalized for the suppression list. */
    address: text("address").notNull(),
    /** The provider's words (SMTP status and reason), as given. */
    detail: text("detail"),
    provider: text("provider").notNull(),
    /** When the provider says it happened; `receivedAt` when we heard of it. */
    at: integer("at").notNull(),
    receivedAt: integer("received_at").notNull(),
    /** The key of the batch that recorded it: that batch's effects apply to the events it recorded, never again. */
    receipt: text("receipt").notNull(),
  },
  (t) => [
    index("delivery_events_email").on(t.emailId, t.at),
    index("delivery_events_record_activity").on(t.recordActivityId, t.at),
    index("delivery_events_address").on(t.address, t.kind),
  ],
);

export type SuppressionReason = "hard_bounce" | "complaint" | "unsubscribe" | "soft_bounces" | "manual";
export const SUPPRESSION_REASONS: readonly SuppressionReason[] = [
  "hard_bounce",
  "complaint",
  "unsubscribe",
  "soft_bounces",
  "manual",
];

/** One list across all scenarios: an address on it is never sent to. Keyed by the normalized address. */
export const suppressions = sqliteTable("suppressions", {
  address: text("address").primaryKey(),
  reason: text("reason").$type<SuppressionReason>().notNull(),
  /** What suppressed it: the delivery event id, or a note given through the API. */
  source: text("source"),
  createdAt: integer("created_at").notNull(),
});
