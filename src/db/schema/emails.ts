import { sql } from "drizzle-orm";
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * `abandoned`: the Worker stopped between archiving the attempt and hearing the transport's answer; it is not known to
 * have been delivered, and its record activity was retried (or ended) without it.
 */
export type EmailStatus = "sending" | "sent" | "retry" | "failed" | "abandoned";

/** The columns of an archived e-mail: those of an `emails` row, and of the `email_archive` view. */
export const emailColumns = () => ({
  id: integer("id").primaryKey({ autoIncrement: true }),
  recordActivityId: integer("record_activity_id").notNull(),
  scenarioId: integer("scenario_id").notNull(),
  activityId: integer("activity_id").notNull(),
  scenarioRecordId: integer("scenario_record_id").notNull(),
  to: text("to").notNull(),
  from: text("from").notNull(),
  subject: text("subject").notNull(),
  /** `''` for e-mails whose Message-ID is derived from the id (src/email/columns.ts); the whole Message-ID before. */
  messageId: text("message_id").notNull(),
  /** The provider's id of the accepted message (MailChannels' request id, the binding's message id), for its events. */
  providerMessageId: text("provider_message_id"),
  headers: text("headers", { mode: "json" }).notNull().$type<Record<string, string>>(),
  transport: text("transport").notNull(),
  status: text("status").$type<EmailStatus>().notNull(),
  error: text("error"),
  /**
   * R2 object holding the body: one object per delivery batch, the body at [bodyOffset, bodyOffset + bodyLength).
   * The batch's nonce, the key being `batchKey(createdAt, nonce)` (`bodyObjectKey`); the whole key before.
   */
  bodyKey: text("body_key").notNull(),
  bodyOffset: integer("body_offset"),
  bodyLength: integer("body_length"),
  attempt: integer("attempt").notNull(),
  /**
   * The URLs of the e-mail's click and next-page links, by key position (`src/email/link-urls.ts`): a signed key
   * names the e-mail and the position, so no row per link is written. Null for e-mails sent with `links` rows.
   */
  linkUrls: text("link_urls"),
  sentAt: integer("sent_at"),
  /**
   * When the transport answered this attempt, whatever it said (null while sending, or when it was never called).
   * NULL too when it answered at `sentAt`, which readers take then (`answeredAtOf`).
   */
  answeredAt: integer("answered_at"),
  createdAt: integer("created_at").notNull(),
});

/**
 * The archive's own rows: the attempts not archived on their record activity's row (`emailArchive` reads both) —
 * later attempts (ids from the `emails` sequence, 2^52 and up), e-mails sent outside a claim or in a batch too large to
 * stage, and every e-mail archived before first attempts moved to their record activity. Bodies live in R2.
 */
export const emails = sqliteTable("emails", emailColumns(), (t) => [
  // Every index entry is a row written (D1 bills them): a first attempt's row is written with none. It takes its
  // record activity's id (src/email/archive.ts), so the primary key finds it; only the other attempts and e-mails
  // archived before are in the partial index by record activity, and every reader asks both halves
  // (src/email/of-record-activity.ts). Lists by scenario or activity read the record activities' scenario index and
  // their e-mails (src/engine/runs/emails.ts); rows a dead Worker left `sending` are found from the lapsed claims.
  index("emails_record_activity").on(t.recordActivityId).where(sql`id <> record_activity_id`),
  // Partial: written once the provider has given its id, never for the NULL of an e-mail being sent. On the id's last
  // 10 characters (the random part of a request id or a UUID): a lookup (src/engine/recipients/deliveries.ts) seeks them and
  // checks the whole id, and each entry stores 10 characters, not the 30 to 60 of a provider's id.
  index("emails_provider_message")
    .on(sql`substr(provider_message_id, -10)`)
    .where(sql`provider_message_id IS NOT NULL`),
]);

export type LinkKind = "click" | "open" | "next";

/**
 * Legacy: the tracking keys of e-mails sent before keys were signed (new e-mails write none). A tracking key written
 * into an e-mail: a short link (`click`, with the URL stored at send time), the open pixel
 * (`open`), or the page shown after unsubscribing (`next`). Keys carry 96 random bits.
 */
export const links = sqliteTable(
  "links",
  {
    key: text("key").primaryKey(),
    kind: text("kind").$type<LinkKind>().notNull(),
    emailId: integer("email_id").notNull(),
    recordActivityId: integer("record_activity_id").notNull(),
    url: text("url"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("links_email").on(t.emailId)],
);

export type HitKind = "click" | "open" | "unsubscribe" | "confirm";

/** A request on a tracking route, classified before it may fire an event. No IP address is kept. */
export const hits = sqliteTable(
  "hits",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind").$type<HitKind>().notNull(),
    linkKey: text("link_key"),
    emailId: integer("email_id"),
    recordActivityId: integer("record_activity_id"),
    scenarioId: integer("scenario_id"),
    activityId: integer("activity_id"),
    human: integer("human", { mode: "boolean" }).notNull(),
    /** Why a hit was classified as a machine (`scanner_user_agent`, `head_request`, …); null for a human. */
    reason: text("reason"),
    /** A coarse description of the client: browser family or scanner name, country, network name. */
    client: text("client"),
    at: integer("at").notNull(),
  },
  (t) => [
    index("hits_record_activity").on(t.recordActivityId, t.at),
    // Reports read an activity's machine hits by period (a human's open or click is counted on its record activity's
    // flags): partial, so a human's hit writes no entry here.
    index("hits_activity").on(t.activityId, t.at).where(sql`human = 0`),
  ],
);

/**
 * Counters handed out in blocks. `emails` reserves the ids of a delivery batch's e-mails that cannot take their record
 * activity's id (retries, e-mails after a deferral) before composing it, because the tracking keys written into each
 * e-mail name its id: one row written per batch that needs any. It hands out ids from EMAIL_SEQUENCE_BASE (2^52) up,
 * above every record activity id (src/email/archive.ts).
 */
export const sequences = sqliteTable("sequences", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});
