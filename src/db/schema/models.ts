import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** A type of record. `party` and `sale` are built in (seeded by the first migration). */
export const models = sqliteTable("models", {
  name: text("name").primaryKey(),
  /** Field of this model's records that holds the party's id; null for `party` itself (a party is its own party). */
  partyField: text("party_field"),
  createdAt: integer("created_at").notNull(),
});

/** One row of a model, pushed by the API user: an id chosen by the client and a JSON object of fields. */
export const records = sqliteTable(
  "records",
  {
    model: text("model").notNull(),
    id: text("id").notNull(),
    fields: text("fields", { mode: "json" }).notNull().$type<Record<string, unknown>>(),
    /** Denormalised party id (the value of the model's party field, or the id for a party) for joins and exclusions. */
    partyId: text("party_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.model, t.id] }), index("records_party").on(t.model, t.partyId)],
);
