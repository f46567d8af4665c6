import { type SQL, sql } from "drizzle-orm";
import { emailArchive } from "../db/views";

/**
 * Which e-mails belong to a record activity. Its first attempt takes the record activity's id as its own, so it is
 * found by the primary key and its row is written with no index entry; the others (retries, attempts after a
 * deferral, e-mails archived before) are in the partial index `emails_record_activity` (`WHERE id <>
 * record_activity_id`). SQLite uses a partial index only for a query whose WHERE holds the index's condition, so every
 * reader asks both halves: `(id = ra AND record_activity_id = id) OR (record_activity_id = ra AND id <>
 * record_activity_id)`. `is` tests a column against the record activities wanted (`= r.id`, `IN (…)`).
 */
type Tag<T> = (strings: TemplateStringsArray, ...values: T[]) => T;

const ofRecordActivity = <T>(tag: Tag<T>, id: T, ra: T, is: (column: T) => T) =>
  tag`((${is(id)} AND ${ra} = ${id}) OR (${is(ra)} AND ${id} <> ${ra}))`;

const text: Tag<string> = (strings, ...values) => String.raw({ raw: strings }, ...values);

/** Raw SQL: the e-mail aliased `m` belongs to a record activity `is` accepts, e.g. ``(c) => `${c} = ra.id` ``. */
export const emailOfRecordActivity = (m: string, is: (column: string) => string): string =>
  ofRecordActivity(text, `${m}.id`, `${m}.record_activity_id`, is);

/** The same condition on `email_archive` in a drizzle query, e.g. ``(c) => sql`${c} = ${id}` ``. */
export const emailsOfRecordActivity = (is: (column: SQL) => SQL): SQL =>
  ofRecordActivity<SQL>(sql, sql`${emailArchive.id}`, sql`${emailArchive.recordActivityId}`, is);

/** The e-mails of these record activities, in a drizzle query (one bound JSON parameter a half). */
export const emailsOfRecordActivities = (ids: readonly number[]): SQL =>
  emailsOfRecordActivity((c) => sql`${c} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);

/** SQL: `?n` (a JSON array of record activity ids) holds `column`. */
export const inJsonIds = (param: string) => (column: string) => `${column} IN (SELECT value FROM json_each(${param}))`;
