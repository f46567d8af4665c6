import type { Engine } from "./context";

/**
 * Retention of the e-mail archive: e-mails older than the window (`RETENTION_DAYS`), with their tracking hits and any
 * legacy `links` rows, are exported to R2 beside the bodies as NDJSON, one object per step under the day they were
 * created (`emails/retained/YYYY-MM-DD/<first id>-<last id>.ndjson`), then deleted from D1. The minute sweep runs one
 * step of at most RETENTION_STEP e-mails, oldest first, so a backlog drains in bounded steps. The export is written
 * before anything is deleted, and a step that failed after it writes the same object again. The bodies stay where
 * they are (the bucket's lifecycle rule expires them). Record activities are not exported or removed.
 */

export const DAY_MS = 86_400_000;
/** E-mails one step exports and deletes at most: one object, three statements. */
export const RETENTION_STEP = 500;
export const RETAINED_PREFIX = "emails/retained/";

export const retainedDayPrefix = (day: string) => `${RETAINED_PREFIX}${day}/`;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** One line of an export: the table the row came from and the row as D1 held it (column names, raw values). */
export interface RetainedLine {
  table: "emails" | "hits" | "links";
  row: Record<string, unknown>;
}

export interface RetentionStep {
  /** The day (UTC) of the e-mails exported; null when nothing is older than the window. */
  day: string | null;
  key: string | null;
  emails: number;
  hits: number;
  links: number;
}

interface EmailRowRaw extends Record<string, unknown> {
  id: number;
  record_activity_id: number;
  created_at: number;
}

/**
 * One step: the oldest e-mails (by id, which grows with time) created before `now - days`, all of the same day, at
 * most `limit`, exported with their hits and links to one R2 object, then removed from D1 in one batch.
 */
export async function retainStep(e: Engine, now: number, days: number, limit = RETENTION_STEP): Promise<RetentionStep> {
  const cutoff = now - days * DAY_MS;
  const { results } = await e.d1.prepare("SELECT * FROM emails ORDER BY id LIMIT ?").bind(limit).all<EmailRowRaw>();
  const first = results[0];
  if (!first || first.created_at >= cutoff) return { day: null, key: null, emails: 0, hits: 0, links: 0 };
  const day = dayOf(first.created_at);
  const rows: EmailRowRaw[] = [];
  for (const row of results) {
    if (row.created_at >= cutoff || dayOf(row.created_at) !== day) break;
    rows.push(row);
  }
  const ids = JSON.stringify(rows.map((r) => r.id));
  const ras = JSON.stringify([...new Set(rows.map((r) => r.record_activity_id))]);
  const [hits, links] = await e.d1.batch<Record<string, unknown>>([
    // Through the (record activity, at) index: the hits of these e-mails' record activities, then of these e-mails.
    e.d1
      .prepare(
        `SELECT * FROM hits WHERE record_activity_id IN (SELECT value FROM json_each(?1))
           AND email_id IN (SELECT value FROM json_each(?2)) ORDER BY id`,
      )
      .bind(ras, ids),
    e.d1.prepare("SELECT * FROM links WHERE email_id IN (SELECT value FROM json_each(?1)) ORDER BY key").bind(ids),
  ]);
  const hitRows = hits?.results ?? [];
  const linkRows = links?.results ?? [];
  const lines: RetainedLine[] = [
    ...rows.map((row) => ({ table: "emails" as const, row })),
    ...hitRows.map((row) => ({ table: "hits" as const, row })),
    ...linkRows.map((row) => ({ table: "links" as const, row })),
  ];
  const key = `${retainedDayPrefix(day)}${rows[0]?.id}-${rows[rows.length - 1]?.id}.ndjson`;
  await e.env.EMAIL_BODIES.put(key, lines.map((l) => `${JSON.stringify(l)}\n`).join(""), {
    httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" },
    customMetadata: { emails: String(rows.length), hits: String(hitRows.length), links: String(linkRows.length) },
  });
  await e.d1.batch([
    e.d1
      .prepare("DELETE FROM hits WHERE id IN (SELECT value FROM json_each(?1))")
      .bind(JSON.stringify(hitRows.map((h) => h.id))),
    e.d1.prepare("DELETE FROM links WHERE email_id IN (SELECT value FROM json_each(?1))").bind(ids),
    e.d1.prepare("DELETE FROM emails WHERE id IN (SELECT value FROM json_each(?1))").bind(ids),
  ]);
  return { day, key, emails: rows.length, hits: hitRows.length, links: linkRows.length };
}

export interface RetainedObject {
  key: string;
  size: number;
  emails: number;
  hits: number;
  links: number;
}

/** Where a day's export lives: its objects in the EMAIL_BODIES bucket, with what each holds. */
export async function retainedDay(e: Engine, day: string): Promise<RetainedObject[]> {
  const objects: RetainedObject[] = [];
  let cursor: string | undefined;
  do {
    const page = await e.env.EMAIL_BODIES.list({ prefix: retainedDayPrefix(day), cursor, include: ["customMetadata"] });
    for (const o of page.objects) {
      const m = o.customMetadata ?? {};
      objects.push({
        key: o.key,
        size: o.size,
        emails: Number(m.emails ?? 0),
        hits: Number(m.hits ?? 0),
        links: Number(m.links ?? 0),
      });
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return objects;
}

/** The rows of one export object, as they were in D1; null when there is no such object. */
export async function readRetained(e: Engine, key: string): Promise<RetainedLine[] | null> {
  if (!key.startsWith(RETAINED_PREFIX)) return null;
  const object = await e.env.EMAIL_BODIES.get(key);
  if (!object) return null;
  return (await object.text())
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RetainedLine);
}
