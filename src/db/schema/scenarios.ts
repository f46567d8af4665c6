import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { Domain } from "../../domain/types";

export type ScenarioState = "draft" | "running" | "stopped";
export type ActivityOn = "email_opened" | "email_not_opened" | "email_clicked" | "email_not_clicked";
export type ActivityAction = "send_email";

export const scenarios = sqliteTable("scenarios", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  model: text("model").notNull(),
  domain: text("domain", { mode: "json" }).notNull().$type<Domain>(),
  unsubscribable: integer("unsubscribable", { mode: "boolean" }).notNull().default(false),
  state: text("state").$type<ScenarioState>().notNull().default("draft"),
  /**
   * While the `parked` flags of the scenario's record activities are being brought in line with a new state: the
   * record activity id to continue after (the minute sweep finishes what a transition's request did not). Null when
   * they are in line.
   */
  reparkFrom: integer("repark_from"),
  /**
   * Record writes whose direct enrollment has not reported success, plus failures and lost starts: while it is above
   * zero the scenario owes an enrollment pass (`src/engine/passes.ts`). A full pass sets it back to 0.
   */
  enrollPending: integer("enroll_pending").notNull().default(0),
  /** When `enroll_pending` left 0 (epoch ms; 0 = at the next cycle); null while it is 0. */
  enrollPendingSince: integer("enroll_pending_since"),
  /**
   * Its scenario records and how many are blocked, kept exact by triggers on `scenario_records` (migration 0008), so
   * showing a scenario reads one row however many records it has. Rows removed from D1 later still count.
   */
  countRecords: integer("count_records").notNull().default(0),
  countBlocked: integer("count_blocked").notNull().default(0),
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
    /** Its record activities done, opened and clicked, kept exact by triggers on `record_activities` (migration 0008). */
    countDone: integer("count_done").notNull().default(0),
    countOpened: integer("count_opened").notNull().default(0),
    countClicked: integer("count_clicked").notNull().default(0),
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
