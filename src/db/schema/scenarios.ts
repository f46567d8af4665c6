import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Domain } from "../../domain/types";
import type { SendWindow } from "../../recipients/window";

/** A frequency cap: at most `max` e-mails per recipient in any rolling `period` (ISO 8601 duration). */
export interface FrequencyCap {
  max: number;
  period: string;
}

/** Per-language subject and body of an e-mail activity: language tag → templates. */
export type EmailTranslations = Record<string, { email_title: string; email_template: string }>;

export type ScenarioState = "draft" | "running" | "stopped";
export type ActivityOn =
  | "email_opened"
  | "email_not_opened"
  | "email_clicked"
  | "email_not_clicked"
  | "email_bounced"
  | "subscription_confirmed"
  | "subscription_not_confirmed"
  | "split"
  | "record_changed"
  | "record_not_changed";
/** The name of an action in the registry (`src/actions/registry.ts`), e.g. `send_email`. */
export type ActivityAction = string;

export const scenarios = sqliteTable("scenarios", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  model: text("model").notNull(),
  domain: text("domain", { mode: "json" }).notNull().$type<Domain>(),
  unsubscribable: integer("unsubscribable", { mode: "boolean" }).notNull().default(false),
  state: text("state").$type<ScenarioState>().notNull().default("draft"),
  /** A domain over the record: a record that matches it has converted and leaves the scenario. Null: no goal. */
  goal: text("goal", { mode: "json" }).$type<Domain>(),
  /**
   * While the `parked` flags of the scenario's record activities are being brought in line with a new state: the
   * scenario record id to continue after (src/engine/scenarios/scenarios.ts `parkChunkSql`; the minute sweep finishes what a transition's request did not). Null when
   * they are in line.
   */
  reparkFrom: integer("repark_from"),
  /**
   * Record writes whose direct enrollment has not reported success, plus failures and lost starts: while it is above
   * zero the scenario owes an enrollment pass (`src/engine/enrollment/passes.ts`). A full pass sets it back to 0.
   */
  enrollPending: integer("enroll_pending").notNull().default(0),
  /** When `enroll_pending` left 0 (epoch ms; 0 = at the next cycle); null while it is 0. */
  enrollPendingSince: integer("enroll_pending_since"),
  /**
   * Its scenario records and how many are blocked, kept exact by triggers on `scenario_records` (migration 0011), so
   * showing a scenario reads one row however many records it has. Rows removed from D1 later still count.
   */
  countRecords: integer("count_records").notNull().default(0),
  countBlocked: integer("count_blocked").notNull().default(0),
  /** The scenario's send window (activities may override it); null sends at any time. */
  sendWindow: text("send_window", { mode: "json" }).$type<SendWindow>(),
  /** IANA time zone of recipients whose party has no (known) `tz`; null means UTC. */
  timeZone: text("time_zone"),
  /** This scenario's own frequency cap, on top of the global one. */
  frequencyCap: text("frequency_cap", { mode: "json" }).$type<FrequencyCap>(),
  /**
   * Double opt-in: the scenario runs only when its roots are confirmation e-mails and everything else waits for the
   * recipient's confirmation (see engine/scenarios/double-opt-in.ts).
   */
  doubleOptIn: integer("double_opt_in", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** A node of a scenario's tree. `parentId` null means a root activity. */
export const activities = sqliteTable(
  "activities",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    scenarioId: integer("scenario_id")
      .notNull()
      .references(() => scenarios.id, { onDelete: "cascade" }),
    parentId: integer("parent_id"),
    name: text("name").notNull(),
    on: text("on").$type<ActivityOn>(),
    condition: text("condition", { mode: "json" }).$type<Domain>(),
    /** ISO 8601 duration as given (`P2D`); null means no delay. */
    delay: text("delay"),
    action: text("action").$type<ActivityAction>(),
    emailFrom: text("email_from"),
    emailTitle: text("email_title"),
    emailTemplate: text("email_template"),
    /** Its record activities done, opened and clicked, kept exact by triggers on `record_activities` (migration 0011). */
    countDone: integer("count_done").notNull().default(0),
    countOpened: integer("count_opened").notNull().default(0),
    countClicked: integer("count_clicked").notNull().default(0),
    /**
     * Its record activities not finished (waiting or running), cancelled and failed: kept exact by one statement a
     * batch where they are created or finish (src/engine/enrollment/enroll.ts, commit.ts) and by triggers for the rarer
     * transitions (migration 0013), so no index of record activities by activity and state is needed.
     */
    countWaiting: integer("count_waiting").notNull().default(0),
    countCancelled: integer("count_cancelled").notNull().default(0),
    countFailed: integer("count_failed").notNull().default(0),
    /** The conversions attributed to it (`scenario_records.goal_activity_id`), kept exact by a trigger (migration 0011). */
    countConverted: integer("count_converted").notNull().default(0),
    /** Other language versions of the subject and body; the party's `lang` picks one (see recipients/language.ts). */
    emailTranslations: text("email_translations", { mode: "json" }).$type<EmailTranslations>(),
    /** Overrides the scenario's send window for this activity. */
    sendWindow: text("send_window", { mode: "json" }).$type<SendWindow>(),
    /** The action's settings (a JSON object checked by the action's schema); `send_email` uses the email_* fields. */
    settings: text("settings", { mode: "json" }).$type<Record<string, unknown>>(),
    /** A branch of a random split (`on = "split"`): its weight among its split siblings. */
    weight: integer("weight"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [index("activities_scenario").on(t.scenarioId), index("activities_parent").on(t.parentId)],
);

/** A party that unsubscribed from an `unsubscribable` scenario: none of its records is enrolled in it again. */
export const unsubscriptions = sqliteTable(
  "unsubscriptions",
  {
    scenarioId: integer("scenario_id")
      .notNull()
      .references(() => scenarios.id, { onDelete: "cascade" }),
    partyId: text("party_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("unsubscriptions_key").on(t.scenarioId, t.partyId)],
);
