import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { scenarios } from "./scenarios";

/** A subject recipients can opt out of (`newsletter`, `offers`). The id is chosen by the API user. */
export const topics = sqliteTable("topics", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  description: text("description"),
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
});

/** The topics a scenario is tagged with: a party opted out of one of them is not enrolled, and its sends stop. */
export const scenarioTopics = sqliteTable(
  "scenario_topics",
  {
    scenarioId: integer("scenario_id")
      .notNull()
      .references(() => scenarios.id, { onDelete: "cascade" }),
    topicId: text("topic_id")
      .notNull()
      .references(() => topics.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.scenarioId, t.topicId] }), index("scenario_topics_topic").on(t.topicId)],
);

/** The value of `topic_opt_outs.topic_id` meaning every topic, present and future. */
export const ALL_TOPICS = "*";

/** A party that opted out of a topic (or of all of them: `topic_id = '*'`) on its preference page or through the API. */
export const topicOptOuts = sqliteTable(
  "topic_opt_outs",
  {
    partyId: text("party_id").notNull(),
    topicId: text("topic_id").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.partyId, t.topicId] })],
);

/**
 * One e-mail counted against the frequency caps: taken by a record activity just before its e-mail goes out, in the
 * same statement that counts the party's slots of the period (so concurrent shards cannot both take the last one).
 */
export const sendSlots = sqliteTable(
  "send_slots",
  {
    recordActivityId: integer("record_activity_id").primaryKey(),
    partyId: text("party_id").notNull(),
    scenarioId: integer("scenario_id").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [index("send_slots_party").on(t.partyId, t.at)],
);

/** Service-wide settings changed through the API (`PUT /api/settings`): one row per key, a JSON value. */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  updatedAt: integer("updated_at").notNull(),
});
