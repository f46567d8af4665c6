import { emailOfRecordActivity } from "./of-record-activity";

/**
 * Where the `emails` sequence starts: 2^52. Ids from it never meet a record activity's id (those are the ids of first
 * attempts), fit the 16 digits a tracking key allows (src/signing/keys.ts) and stay below 2^53, exact in JavaScript.
 */
export const EMAIL_SEQUENCE_BASE = 4503599627370496;

/**
 * How long after its record activity was created an e-mail may still take that record activity's id. Ids then grow
 * with the time e-mails are sent, within this slack, in each id range, which retention relies on (it reads each range
 * from its lowest id): an e-mail sent later than this (a delay, a deferral by a frequency cap) takes a sequence id.
 */
export const OWN_ID_WITHIN_MS = 24 * 60 * 60_000;

/**
 * The archive ids of a batch's e-mails, one per record activity (the tracking keys name them, so they are chosen
 * before composing). A first attempt takes its record activity's id: its row is then found by the primary key and
 * written with no index entry. The id is taken from the `emails` sequence instead when an e-mail already holds that
 * number (an earlier attempt, or an e-mail archived before), the record activity already has an e-mail (so a record
 * activity's e-mails keep growing ids), or it was created more than OWN_ID_WITHIN_MS before `now`. One read a batch,
 * and one write when any id comes from the sequence.
 */
export async function chooseEmailIds(d1: D1Database, recordActivityIds: number[], now: number): Promise<number[]> {
  const { results } = await d1
    .prepare(
      `SELECT j.value AS id FROM json_each(?1) j
       WHERE EXISTS (SELECT 1 FROM email_archive WHERE id = j.value)
          OR EXISTS (SELECT 1 FROM email_archive m WHERE ${emailOfRecordActivity("m", (c) => `${c} = j.value`)})
          OR (SELECT created_at FROM record_activities WHERE id = j.value) < ?2`,
    )
    .bind(JSON.stringify(recordActivityIds), now - OWN_ID_WITHIN_MS)
    .all<{ id: number }>();
  const taken = new Set(results.map((r) => r.id));
  const ids = recordActivityIds.map((ra) => {
    const own = !taken.has(ra) && ra < EMAIL_SEQUENCE_BASE;
    taken.add(ra);
    return own ? ra : null;
  });
  const missing = ids.filter((id) => id === null).length;
  if (missing === 0) return ids as number[];
  let next = await reserveEmailIds(d1, missing);
  return ids.map((id) => id ?? next++);
}

/**
 * Reserves `count` consecutive e-mail ids of the `emails` sequence and returns the first: one row written. The block
 * starts at EMAIL_SEQUENCE_BASE or after the highest id already used, so rows inserted any other way never collide.
 */
export async function reserveEmailIds(d1: D1Database, count: number): Promise<number> {
  const row = await d1
    .prepare(
      `INSERT INTO sequences (name, value)
       VALUES ('emails', max(?2 - 1, (SELECT COALESCE(MAX(id), 0) FROM emails)) + ?1)
       ON CONFLICT (name) DO UPDATE SET value = max(value, ?2 - 1, (SELECT COALESCE(MAX(id), 0) FROM emails)) + ?1
       RETURNING value`,
    )
    .bind(count, EMAIL_SEQUENCE_BASE)
    .first<{ value: number }>();
  if (!row) throw new Error("no e-mail ids could be reserved");
  return row.value - count + 1;
}
