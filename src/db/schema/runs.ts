import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { EmailStatus } from "./emails";
import { activities, scenarios } from "./scenarios";

/** `running` is stored only by claims of earlier versions: a claimed row stays `waiting` (shown `running`). */
export type RecordActivityState = "waiting" | "running" | "done" | "cancelled" | "failed";

/**
 * A record that entered a scenario. A record enters a scenario at most once, ever (the unique index). Ids are in the
 * scenario's range, `scenario_id * 2^32 + n`, given by enrollment's insert (src/engine/scenarios/scenario-range.ts): an insert
 * without one would take AUTOINCREMENT's next id, past the highest range's, which readers of the scenario's record
 * activities do not expect. Those created before ranges have small ids.
 */
export const scenarioRecords = sqliteTable(
  "scenario_records",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scenarioId: integer("scenario_id")
      .notNull()
      .references(() => scenarios.id, { onDelete: "cascade" }),
    model: text("model").notNull(),
    recordId: text("record_id").notNull(),
    partyId: text("party_id"),
    blocked: integer("blocked", { mode: "boolean" }).notNull().default(false),
    /**
     * The secret half of this recipient's unsubscribe token (`${id}-${secret}`, see ids.ts): `''` when it is derived
     * from the id under TRACKING_SECRET (src/signing/tokens.ts); 128 random bits, hex, for records enrolled before.
     */
    token: text("token").notNull(),
    /** When the record reached the scenario's goal (it left the scenario then); null while it has not. */
    goalReachedAt: integer("goal_reached_at"),
    /** The activity the conversion is attributed to: the one whose e-mail the record clicked last. */
    goalActivityId: integer("goal_activity_id"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    // Conversions per activity; partial, so enrolling (goal_activity_id null) never writes to it.
    index("scenario_records_conversions")
      .on(t.goalActivityId, t.goalReachedAt)
      .where(sql`goal_activity_id IS NOT NULL`),
    uniqueIndex("scenario_records_once").on(t.scenarioId, t.model, t.recordId),
    // The scenario's counts are kept on its row (`count_records`, `count_blocked`), so no index covers them here.
  ],
);

/** The state of one activity for one scenario record. */
export const recordActivities = sqliteTable(
  "record_activities",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scenarioRecordId: integer("scenario_record_id")
      .notNull()
      .references(() => scenarioRecords.id, { onDelete: "cascade" }),
    activityId: integer("activity_id")
      .notNull()
      .references(() => activities.id, { onDelete: "cascade" }),
    scenarioId: integer("scenario_id").notNull(),
    /** Which scheduler shard wakes for this row (scenario record id modulo the shard count). */
    shard: integer("shard").notNull(),
    state: text("state").$type<RecordActivityState>().notNull().default("waiting"),
    /**
     * True while the row cannot run because its scenario is not running or its record is blocked. Kept up to date
     * by those transitions, so claims and wake-ups read only rows that can run, however large a paused backlog.
     */
    parked: integer("parked", { mode: "boolean" }).notNull().default(false),
    /** Due time while waiting (null: waiting for an e-mail event), execution time once done. */
    at: integer("at"),
    /** When it was (last) due: kept after execution so the scheduler's lag can be measured. */
    dueAt: integer("due_at"),
    emailOpened: integer("email_opened", { mode: "boolean" }).notNull().default(false),
    emailClicked: integer("email_clicked", { mode: "boolean" }).notNull().default(false),
    /** When the (first human) click happened: conversions go to the e-mail clicked last. */
    emailClickedAt: integer("email_clicked_at"),
    /**
     * Set by the commit that made it done when it sent an e-mail (the same row write): such a row leaves D1 with its
     * e-mail, so retention's index of done rows holds only the others.
     */
    emailed: integer("emailed", { mode: "boolean" }).notNull().default(false),
    reason: text("reason"),
    attempts: integer("attempts").notNull().default(0),
    /**
     * Written by claims of earlier versions only (a `running` row's claim key and deadline): a claim now writes its
     * `claims` row alone. Read to take over such rows once their claim lapses (src/engine/execution/claim.ts).
     */
    claimKey: text("claim_key"),
    claimedUntil: integer("claimed_until"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    /**
     * Its first attempt's e-mail, archived on this row (null while it has none): written by the commit's update of this
     * row, so the e-mail costs no row of its own. Its id is this row's id. Read through the `email_archive` view with
     * the `emails` rows (later attempts, e-mails sent outside a claim, e-mails archived before): src/email/archive.ts.
     * The columns are those of `emails`, without what this row has already (ids, scenario, activity, scenario record).
     */
    emailStatus: text("email_status").$type<EmailStatus>(),
    emailTo: text("email_to"),
    emailFrom: text("email_from"),
    emailSubject: text("email_subject"),
    emailTransport: text("email_transport"),
    emailError: text("email_error"),
    emailBodyKey: text("email_body_key"),
    emailBodyOffset: integer("email_body_offset"),
    emailBodyLength: integer("email_body_length"),
    emailAttempt: integer("email_attempt"),
    emailLinkUrls: text("email_link_urls"),
    emailProviderId: text("email_provider_id"),
    emailSentAt: integer("email_sent_at"),
    emailAnsweredAt: integer("email_answered_at"),
    emailCreatedAt: integer("email_created_at"),
  },
  (t) => [
    // D1 bills every index entry written as a row; entries removed cost nothing. So the due index holds only waiting
    // rows (a claim writes none: claimed rows stay waiting, listed by the `claims` row), and a record activity that
    // finishes by sending an e-mail enters no index: counts by activity and state are kept on the activity's row,
    // reports read `activity_days`.
    // Led by scenario_record_id on purpose: deleting a scenario deletes its scenario records by cascade, and SQLite
    // finds each one's record activities (the foreign key's cascade) by `scenario_record_id` alone. An index led by
    // another column (the scenario's) would make that a scan of all record activities a scenario record
    // (test/engine/scenario-delete.test.ts).
    uniqueIndex("record_activities_once").on(t.scenarioRecordId, t.activityId),
    // What a shard's claims and wake-ups read: waiting rows by due time.
    index("record_activities_due").on(t.shard, t.parked, t.at).where(sql`state = 'waiting'`),
    // Retention: done rows that sent no e-mail (the others leave with their e-mails), by the time they finished.
    index("record_activities_done_unemailed").on(t.at).where(sql`state = 'done' AND emailed = 0`),
    // Retention: cancelled and failed rows by the time they ended (rarer than done ones, so few entries written).
    index("record_activities_ended").on(t.at).where(sql`state IN ('cancelled', 'failed')`),
    // A scenario's record activities: those of its scenario records created since ids are allocated in the scenario's
    // range (src/engine/scenarios/scenario-range.ts) are a range of `record_activities_once`, so they write no entry here; this
    // partial index holds only those of scenario records created before (small autoincrement ids).
    index("record_activities_scenario_legacy")
      .on(t.scenarioId, t.scenarioRecordId, t.activityId)
      .where(sql`scenario_record_id < 4294967296`),
    // The provider-id index of the e-mails archived on their record activity's row (as `emails_provider_message`).
    index("record_activities_email_provider")
      .on(sql`substr(email_provider_id, -10)`)
      .where(sql`email_provider_id IS NOT NULL`),
  ],
);

/**
 * A claim that is held: the record activities one Worker took at once. They stay `waiting` in their rows; this row is
 * what holds them (other claims skip them while `until` has not passed, and the API shows them `running`). When it
 * lapses another claim takes them over and removes them from `ids`, so this claim's late commit settles nothing. One
 * row a batch of up to 100, so a claim writes one row in all, not one for each record activity; the commit deletes it.
 */
export const claims = sqliteTable(
  "claims",
  {
    /** The claim's key, shared by the shards one call claims from (each has its row). */
    key: text("key").notNull(),
    shard: integer("shard").notNull(),
    until: integer("until").notNull(),
    /** The ids of the record activities claimed, a JSON array. */
    ids: text("ids").notNull(),
    /**
     * The archive rows of the e-mails this claim is delivering, a JSON array, staged before delivery (one write a
     * batch): the `emails` row is inserted once, with its outcome, after the transport answered. Whoever removes the
     * claims row first inserts the rows still missing (src/email/archive.ts). Null when nothing is staged.
     */
    staged: text("staged"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.key, t.shard] }), index("claims_shard").on(t.shard, t.until)],
);

/**
 * What activity reports read, per activity and UTC day (`YYYY-MM-DD`), so they read no record activity and keep
 * answering for periods whose rows left D1. One row an activity and day:
 * - `done`, `opened`, `clicked`: record activities done that day (by `at`), and of those the ones whose e-mail was
 *   opened / clicked. Written as the work happens: the commit that makes them done adds them (with the flags they
 *   already carry) in its batch, and the trigger that counts an open or click on the activity adds one to the day
 *   of a done row. Retention deletes nothing from here.
 * - `machine_opens`, `machine_clicks`: machine hits of periods retention removed (by the day of the hit), added by
 *   the retention step in the same batch as its deletes; reports read the hits still in D1 from `hits`.
 */
export const activityDays = sqliteTable(
  "activity_days",
  {
    activityId: integer("activity_id")
      .notNull()
      .references(() => activities.id, { onDelete: "cascade" }),
    day: text("day").notNull(),
    done: integer("done").notNull().default(0),
    opened: integer("opened").notNull().default(0),
    clicked: integer("clicked").notNull().default(0),
    machineOpens: integer("machine_opens").notNull().default(0),
    machineClicks: integer("machine_clicks").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.activityId, t.day] })],
);
