import { and, desc, eq, getTableColumns, lt, or, sql } from "drizzle-orm";
import { takePage } from "../../db/page";
import type { EmailStatus, emails } from "../../db/schema/emails";
import { emailArchive } from "../../db/views";
import { type BodyObject, getBody } from "../../email/bodies";
import { withDerivedColumns } from "../../email/columns";
import { emailsOfRecordActivity } from "../../email/of-record-activity";
import { invalid, notFound } from "../../errors";
import { parseId } from "../../ids";
import { trackingSecretOf } from "../../signing/keys";
import type { Engine } from "../ports";
import { positionOf, recordActivitiesOfScenario } from "../scenarios/scenario-range";

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
  /** The previous page's `nextCursor`. */
  cursor: string | null;
  /** By scenario or activity: the record activities a page reads at most (RECORD_ACTIVITIES_A_PAGE). */
  recordActivities?: number;
}

/** Record activities one page of a list by scenario or activity reads at most: its reads stay bounded. */
export const RECORD_ACTIVITIES_A_PAGE = 1000;

const NOT_A_CURSOR = "cursor: not a cursor returned by this list";
const SCAN_CURSOR = /^([1-9][0-9]{0,15})-(0|[1-9][0-9]{0,15})$/;

/**
 * Archived e-mails, newest first. Unfiltered, by status or by record activity: by id, the cursor being the last
 * e-mail's id. By scenario or activity (there is no index of e-mails by either: a row written less an e-mail): by
 * the scenario's record activities (src/engine/scenarios/scenario-range.ts) in descending (scenario record, activity) order,
 * the newest scenario record first, each with its e-mails newest first, the cursor `{record activity id}-{e-mail id}`
 * (continue with that record activity's e-mails below that id, then the record activities before it; refused once
 * that record activity has left D1). A page reads at most RECORD_ACTIVITIES_A_PAGE record activities, so it may hold
 * fewer e-mails than `limit` (none, even) and still have a cursor, then `{record activity id}-0`.
 */
export async function listEmails(e: Engine, f: EmailFilter): Promise<{ items: EmailRow[]; nextCursor: string | null }> {
  if (f.recordActivityId === undefined && (f.scenarioId !== undefined || f.activityId !== undefined)) {
    return listEmailsByRecordActivity(e, f);
  }
  const cursor = f.cursor === null ? null : parseId(f.cursor);
  if (f.cursor !== null && cursor === null) throw invalid(NOT_A_CURSOR);
  const rows = await e.db
    .select()
    .from(emailArchive)
    .where(
      and(
        f.recordActivityId === undefined ? undefined : emailsOfRecordActivity((c) => sql`${c} = ${f.recordActivityId}`),
        f.scenarioId === undefined ? undefined : eq(emailArchive.scenarioId, f.scenarioId),
        f.activityId === undefined ? undefined : eq(emailArchive.activityId, f.activityId),
        f.status === undefined ? undefined : eq(emailArchive.status, f.status),
        cursor === null ? undefined : lt(emailArchive.id, cursor),
      ),
    )
    .orderBy(desc(emailArchive.id))
    .limit(f.limit + 1)
    .all();
  const secret = trackingSecretOf(e.env);
  return takePage(await Promise.all(rows.map((r) => withDerivedColumns(secret, r))), f.limit, (r) => String(r.id));
}

/** A scenario's (or an activity's) e-mails, read through its record activities (see listEmails). */
async function listEmailsByRecordActivity(e: Engine, f: EmailFilter) {
  const match = f.cursor === null ? null : SCAN_CURSOR.exec(f.cursor);
  if (f.cursor !== null && match === null) throw invalid(NOT_A_CURSOR);
  const at = match ? { ra: Number(match[1]), email: Number(match[2]) } : null;
  const scan = f.recordActivities ?? RECORD_ACTIVITIES_A_PAGE;
  const scenarioId = f.scenarioId ?? (await scenarioOfActivity(e, f.activityId));
  if (scenarioId === null) return { items: [], nextCursor: null };
  // Index only: the scenario's record activities from the cursor's down (newest scenario record first, then
  // activity: scenario-range.ts), at most a page's worth.
  const from = at ? await positionOf(e, scenarioId, at.ra) : undefined;
  const scanned = sql`(${recordActivitiesOfScenario({
    columns: sql`id, scenario_record_id, activity_id`,
    scenarioId,
    from,
    desc: true,
    limit: scan,
  })}) AS r`;
  const ra = sql<number>`r.id`;
  // The join in a subquery of its own, ordered outside it by its result's columns: SQLite then flattens
  // `email_archive` (a UNION ALL) into the join, each arm read by its keys. Ordered by the scanned record activities'
  // columns in the same query, it would read the view whole.
  const joined = e.db
    .select({
      ...getTableColumns(emailArchive),
      ra: ra.as("ra"),
      srId: sql<number>`r.scenario_record_id`.as("sr_id"),
      activity: sql<number>`r.activity_id`.as("ra_activity_id"),
    })
    .from(scanned)
    .innerJoin(
      emailArchive,
      emailsOfRecordActivity((c) => sql`${c} = r.id`),
    )
    .where(
      and(
        f.activityId === undefined ? undefined : eq(emailArchive.activityId, f.activityId),
        f.status === undefined ? undefined : eq(emailArchive.status, f.status),
        at ? or(sql`r.id <> ${at.ra}`, lt(emailArchive.id, at.email)) : undefined,
      ),
    )
    .as("j");
  const found = await e.db
    .select()
    .from(joined)
    .orderBy(desc(joined.srId), desc(joined.activity), desc(joined.id))
    .limit(f.limit + 1)
    .all();
  const rows = found.map(({ ra, srId: _sr, activity: _a, ...email }) => ({ ra, email }));
  const page = takePage(rows, f.limit, (r) => `${r.ra}-${r.email.id}`);
  let nextCursor = page.nextCursor;
  if (nextCursor === null) {
    // The page is not full: more may follow the record activities it read, if it read as many as it may.
    const read = await e.db
      .select({ count: sql<number>`count(*) OVER ()`, last: ra })
      .from(scanned)
      .orderBy(sql`r.scenario_record_id`, sql`r.activity_id`)
      .limit(1)
      .get();
    if (read && read.count >= scan) nextCursor = `${read.last}-0`;
  }
  const secret = trackingSecretOf(e.env);
  return { items: await Promise.all(page.items.map((r) => withDerivedColumns(secret, r.email))), nextCursor };
}

async function scenarioOfActivity(e: Engine, activityId: number | undefined): Promise<number | null> {
  if (activityId === undefined) return null;
  const row = await e.d1
    .prepare("SELECT scenario_id FROM activities WHERE id = ?")
    .bind(activityId)
    .first<{ scenario_id: number }>();
  return row?.scenario_id ?? null;
}

export async function getEmailRow(e: Engine, id: number): Promise<EmailRow> {
  const row = await e.db.select().from(emailArchive).where(eq(emailArchive.id, id)).get();
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
