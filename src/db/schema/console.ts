import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Console sessions signed out before they expired. A session cookie is signed, not stored, so signing out records its
 * nonce here and every console request refuses a cookie whose nonce is listed. A row is useless once its session has
 * expired (`expiresAt`, epoch seconds as in the cookie) and is deleted at the next sign-out.
 */
export const consoleSignOuts = sqliteTable("console_sign_outs", {
  nonce: text("nonce").primaryKey(),
  expiresAt: integer("expires_at").notNull(),
});
