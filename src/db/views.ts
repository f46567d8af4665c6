import { sqliteTable } from "drizzle-orm/sqlite-core";
import { emailColumns } from "./schema/emails";

/**
 * Views, declared for drizzle's queries as the tables they read like. Outside `src/db/schema.ts` on purpose: drizzle-kit
 * generates migrations from that file only, and each view is hand-written SQL in the migration that creates it.
 *
 * `email_archive` (migration 0020): every archived e-mail — the `emails` rows, and the first attempts archived on their
 * record activity's row (`record_activities.email_*`, whose id is the record activity's). Each arm is read through its
 * own indexes: SQLite flattens the UNION ALL into the query that reads it, so a lookup by id reads two primary keys and
 * a list by id merges two ordered scans. Read it; write `emails` or the record activity (src/email/archive.ts).
 */
export const emailArchive = sqliteTable("email_archive", emailColumns());
