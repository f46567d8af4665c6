import { and, desc, eq, lt, sql } from "drizzle-orm";
import { takePage } from "../db/page";
import { type EmailStatus, emails } from "../db/schema/emails";
import type { Engine } from "../engine/context";
import { notFound } from "../errors";
import { trackingSecretOf } from "../tracking/keys";
import { type BodyObject, getBody } from "./archive";
import { withDerivedColumns } from "./columns";

/**
 * The read side of the e-mail archive: rows from D1 with their derived columns filled in (the Message-ID, the body's
 * key, when the transport answered: src/email/columns.ts), bodies from R2.
 */

export type EmailRow = typeof emails.$inferSelect;

export interface EmailFilter {
  scenarioId?: number;
  activityId?: number;
  recordActivityId?: number;
  status?: EmailStatus;
  limit: number;
  /** The id of the last e-mail of the previous page. */
  cursor: number | null;
}

/** Archived e-mails, newest first. */
export async function listEmails(e: Engine, f: EmailFilter): Promise<{ items: EmailRow[]; nextCursor: number | null }> {
  const rows = await e.db
    .select()
    .from(emails)
    .where(
      and(
        f.scenarioId === undefined ? undefined : eq(emails.scenarioId, f.scenarioId),
        // An activity's e-mails are read through its scenario's index (there is none by activity: one less row
        // written an e-mail), in the same id order.
        f.activityId === undefined
          ? undefined
          : and(
              eq(emails.activityId, f.activityId),
              sql`${emails.scenarioId} = (SELECT scenario_id FROM activities WHERE id = ${f.activityId})`,
            ),
        f.recordActivityId === undefined ? undefined : eq(emails.recordActivityId, f.recordActivityId),
        f.status === undefined ? undefined : eq(emails.status, f.status),
        f.cursor === null ? undefined : lt(emails.id, f.cursor),
      ),
    )
    .orderBy(desc(emails.id))
    .limit(f.limit + 1)
    .all();
  const secret = trackingSecretOf(e.env);
  return takePage(await Promise.all(rows.map((r) => withDerivedColumns(secret, r))), f.limit, (r) => r.id);
}

export async function getEmailRow(e: Engine, id: number): Promise<EmailRow> {
  const row = await e.db.select().from(emails).where(eq(emails.id, id)).get();
  if (!row) throw notFound("e-mail", id);
  return withDerivedColumns(trackingSecretOf(e.env), row);
}

/**
 * One e-mail with its body; `body` is null when R2 has none (not archived yet, or deleted). Its headers come from the
 * body object, where they are archived now, or from the row for e-mails archived before.
 */
export async function getEmail(e: Engine, id: number): Promise<{ email: EmailRow; body: BodyObject | null }> {
  const email = await getEmailRow(e, id);
  const body = await getBody(e.env.EMAIL_BODIES, email);
  const headers = Object.keys(email.headers ?? {}).length === 0 && body?.headers ? body.headers : email.headers;
  return { email: { ...email, headers }, body };
}

/** The raw RFC 5322 message, as handed to the transport. */
export async function getEmailRaw(e: Engine, id: number): Promise<string> {
  const { body } = await getEmail(e, id);
  if (!body) throw notFound("body of e-mail", id);
  return body.raw;
}
