/**
 * The D1 schema: the single description of the service's tables. Migrations are generated from it by drizzle-kit
 * (`npm run db:generate`) into `migrations/`, the folder wrangler applies.
 *
 * Times are integers: milliseconds since the Unix epoch, always computed by the Worker (never by SQLite), so one clock
 * drives the engine and the API renders them as ISO 8601.
 */

export * from "./schema/console";
export * from "./schema/deliverability";
export * from "./schema/emails";
export * from "./schema/models";
export * from "./schema/recipients";
export * from "./schema/runs";
export * from "./schema/scenarios";
