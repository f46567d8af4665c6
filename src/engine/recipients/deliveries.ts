import { chunkByBytes } from "../../db/chunk";
import { takePage } from "../../db/page";
import type { DeliveryEventKind } from "../../db/schema";
import { shiftBy } from "../../domain/duration";
import { normalizeAddress } from "../../email/address";
import { parseAddress } from "../../env";
import { randomHex } from "../../ids";
import type { Engine } from "../ports";
import { makeBouncedChildrenDue } from "../record-activities/transitions";

/**
 * Bytes of JSON one statement binds as its parameter: half of D1's 2,000,000-byte bound string, so a statement that
 * reads the JSON back with its own columns stays within D1's row and string limits too.
 */
export const MAX_JSON_PARAM_BYTES = 1_000_000;

/** A delivery event as a provider's webhook or the generic API gives it, before it is matched to an e-mail. */
export interface DeliveryEventInput {
  /** Unique per event: the same id twice is the same event. */
  eventId: string;
  kind: DeliveryEventKind;
  provider: string;
  /** The e-mail, by the provider's id of the message (`provider_message_id`) or by our archive id. */
  providerMessageId: string | null;
  emailId: number | null;
  at: number;
  detail: string | null;
}

/** An event matched to its e-mail: what a queue message carries. */
export interface DeliveryEvent extends Omit<DeliveryEventInput, "emailId" | "providerMessageId"> {
  emailId: number;
  recordActivityId: number;
  address: string;
}

/** Kinds that put the address on the suppression list at once, and the reason they give. */
const SUPPRESSING: Partial<Record<DeliveryEventKind, string>> = {
  hard_bounce: "hard_bounce",
  complaint: "complaint",
  unsubscribe: "unsubscribe",
};
/** Kinds that mean the e-mail never arrived: the `email_bounced` children of its record activity run. */
export const BOUNCING: DeliveryEventKind[] = ["hard_bounce", "rejected"];

/**
 * Finds each event's e-mail, in one query. Returns the matched events, and the index of each event whose e-mail is
 * not in the archive (the caller refuses the whole request: nothing is recorded).
 */
export async function matchDeliveryEvents(
  d1: D1Database,
  events: DeliveryEventInput[],
): Promise<{ matched: DeliveryEvent[]; unknown: number[] }> {
  if (events.length === 0) return { matched: [], unknown: [] };
  const keys = events.map((ev, i) => ({ i, pid: ev.providerMessageId, id: ev.emailId }));
  // The keys travel as one JSON parameter a statement, kept under D1's 2,000,000-byte bound string (a burst of
  // thousands of long provider ids would exceed it); the statements run in one D1 batch.
  const statements = chunkByBytes(keys, MAX_JSON_PARAM_BYTES).map((part) =>
    d1
      .prepare(
        // Each event's e-mail id first, once (MATERIALIZED), then its row: the view's arms both read it.
        `WITH k AS MATERIALIZED (
           SELECT k.i, (
             SELECT x.id FROM email_archive x
             WHERE (k.id IS NOT NULL AND x.id = k.id)
                -- The provider-id index is on the id's last 10 characters (src/db/schema/emails.ts): seek, then compare.
                OR (k.pid IS NOT NULL AND substr(x.provider_message_id, -10) = substr(k.pid, -10)
                    AND x.provider_message_id = k.pid)
             ORDER BY x.id DESC LIMIT 1) AS email_id
           FROM (SELECT json_extract(value, '$.i') AS i, json_extract(value, '$.pid') AS pid,
                        json_extract(value, '$.id') AS id
                 FROM json_each(?1)) AS k)
         SELECT k.i, e.id, e.record_activity_id, e."to" FROM k JOIN email_archive e ON e.id = k.email_id`,
      )
      .bind(JSON.stringify(part)),
  );
  const results = (
    await d1.batch<{ i: number; id: number; record_activity_id: number; to: string }>(statements)
  ).flatMap((r) => r.results);
  const byIndex = new Map(results.map((r) => [r.i, r]));
  const matched: DeliveryEvent[] = [];
  const unknown: number[] = [];
  events.forEach((ev, i) => {
    const row = byIndex.get(i);
    if (!row) {
      unknown.push(i);
      return;
    }
    const to = parseAddress(row.to)?.address ?? row.to;
    matched.push({
      eventId: ev.eventId,
      kind: ev.kind,
      provider: ev.provider,
      at: ev.at,
      detail: ev.detail,
      emailId: row.id,
      recordActivityId: row.record_activity_id,
      address: normalizeAddress(to) ?? to.toLowerCase(),
    });
  });
  return { matched, unknown };
}

export interface DeliveryCounts {
  recorded: number;
  duplicates: number;
  suppressed: number;
  bounced_children: number;
}

/**
 * Records matched events and applies them, in one D1 batch (a transaction): each new event is stored once (its id is
 * unique); hard bounces, complaints and unsubscribes suppress the address; soft bounces suppress it once it has
 * `softBounceLimit` of them; hard bounces and rejections make the waiting `email_bounced` children of the e-mail's
 * record activity due. Effects apply only to the events this batch recorded, so an event seen twice acts once, even
 * after its suppression was lifted by hand.
 */
export async function recordDeliveryEvents(
  e: Engine,
  events: DeliveryEvent[],
  opts: { softBounceLimit: number; now?: number },
): Promise<DeliveryCounts> {
  // One transaction per run of at most 500 events and 1,000,000 bytes of JSON (D1 binds strings of at most
  // 2,000,000 bytes): each is safe to repeat, so a failure part-way retries the whole batch without harm.
  const total: DeliveryCounts = { recorded: 0, duplicates: 0, suppressed: 0, bounced_children: 0 };
  for (const part of chunkByBytes(events, MAX_JSON_PARAM_BYTES, EVENTS_PER_TRANSACTION)) {
    const counts = await recordTransaction(e, part, opts);
    total.recorded += counts.recorded;
    total.duplicates += counts.duplicates;
    total.suppressed += counts.suppressed;
    total.bounced_children += counts.bounced_children;
  }
  return total;
}

/** Events one D1 transaction records at most. */
const EVENTS_PER_TRANSACTION = 500;

async function recordTransaction(
  e: Engine,
  events: DeliveryEvent[],
  opts: { softBounceLimit: number; now?: number },
): Promise<DeliveryCounts> {
  const now = opts.now ?? Date.now();
  if (events.length === 0) return { recorded: 0, duplicates: 0, suppressed: 0, bounced_children: 0 };
  const receipt = randomHex(8);
  const json = JSON.stringify(events);
  const due = await bouncedChildDelays(e.d1, events, now);
  const mine = `SELECT * FROM delivery_events WHERE event_id IN (SELECT json_extract(value, '$.eventId') FROM json_each(?1)) AND receipt = ?2`;
  const suppressingKinds = JSON.stringify(Object.keys(SUPPRESSING));
  const [inserted, suppressed, softSuppressed, children] = await e.d1.batch([
    e.d1
      .prepare(
        `INSERT OR IGNORE INTO delivery_events
           (event_id, email_id, record_activity_id, kind, address, detail, provider, at, received_at, receipt)
         SELECT json_extract(value, '$.eventId'), json_extract(value, '$.emailId'),
           json_extract(value, '$.recordActivityId'), json_extract(value, '$.kind'), json_extract(value, '$.address'),
           json_extract(value, '$.detail'), json_extract(value, '$.provider'), json_extract(value, '$.at'), ?3, ?2
         FROM json_each(?1) WHERE true`,
      )
      .bind(json, receipt, now),
    e.d1
      .prepare(
        `INSERT OR IGNORE INTO suppressions (address, reason, source, created_at)
         SELECT address, kind, provider || ' event ' || event_id, ?3 FROM (${mine})
         WHERE kind IN (SELECT value FROM json_each(?4)) ORDER BY id`,
      )
      .bind(json, receipt, now, suppressingKinds),
    e.d1
      .prepare(
        `INSERT OR IGNORE INTO suppressions (address, reason, source, created_at)
         SELECT d.address, 'soft_bounces', count(*) || ' soft bounces', ?3 FROM delivery_events d
         WHERE d.kind = 'soft_bounce' AND d.address IN (SELECT address FROM (${mine}) WHERE kind = 'soft_bounce')
         GROUP BY d.address HAVING count(*) >= ?4`,
      )
      .bind(json, receipt, now, opts.softBounceLimit),
    makeBouncedChildrenDue(e.d1, mine, { events: json, receipt, now, due, kinds: BOUNCING }),
  ]);
  const woken = (children?.results ?? []) as { shard: number; at: number }[];
  if (woken.length > 0) await e.wake(woken);
  const recorded = inserted?.meta.changes ?? 0;
  return {
    recorded,
    duplicates: events.length - recorded,
    suppressed: (suppressed?.meta.changes ?? 0) + (softSuppressed?.meta.changes ?? 0),
    bounced_children: woken.length,
  };
}

/** Due times of the `email_bounced` activities under the events' activities: now + each one's delay. */
async function bouncedChildDelays(d1: D1Database, events: DeliveryEvent[], now: number) {
  const bouncing = events.filter((ev) => BOUNCING.includes(ev.kind)).map((ev) => ev.recordActivityId);
  const due: Record<string, number> = {};
  if (bouncing.length === 0) return due;
  const { results } = await d1
    .prepare(
      `SELECT DISTINCT c.id, c.delay FROM record_activities ra
       JOIN activities c ON c.parent_id = ra.activity_id AND c."on" = 'email_bounced'
       WHERE ra.id IN (SELECT value FROM json_each(?1))`,
    )
    .bind(JSON.stringify([...new Set(bouncing)]))
    .all<{ id: number; delay: string | null }>();
  for (const c of results) due[c.id] = shiftBy(now, c.delay);
  return due;
}

/** A batch of events read back for one e-mail or record activity, oldest first (the timeline, the e-mail page). */
export async function deliveryEventsOf(
  d1: D1Database,
  where: { emailIds?: number[]; recordActivityIds?: number[] },
): Promise<StoredDeliveryEvent[]> {
  const column = where.emailIds ? "email_id" : "record_activity_id";
  const ids = where.emailIds ?? where.recordActivityIds ?? [];
  if (ids.length === 0) return [];
  const { results } = await d1
    .prepare(
      `SELECT id, event_id, email_id, record_activity_id, kind, address, detail, provider, at, received_at
       FROM delivery_events WHERE ${column} IN (SELECT value FROM json_each(?1)) ORDER BY at, id LIMIT 1000`,
    )
    .bind(JSON.stringify(ids))
    .all<StoredDeliveryEvent>();
  return results;
}

/**
 * One page of the delivery events of one e-mail or record activity, oldest first: keyset-paginated on (at, id), so a
 * long history is read page by page whatever its length.
 */
export async function deliveryEventsPage(
  d1: D1Database,
  where: { emailId: number } | { recordActivityId: number },
  page: { limit: number; after: { at: number; id: number } | null },
): Promise<{ items: StoredDeliveryEvent[]; nextCursor: { at: number; id: number } | null }> {
  const [column, value] =
    "emailId" in where ? ["email_id", where.emailId] : ["record_activity_id", where.recordActivityId];
  const after = page.after ?? { at: Number.MIN_SAFE_INTEGER, id: 0 };
  const { results } = await d1
    .prepare(
      `SELECT id, event_id, email_id, record_activity_id, kind, address, detail, provider, at, received_at
       FROM delivery_events WHERE ${column} = ?1 AND (at > ?2 OR (at = ?2 AND id > ?3)) ORDER BY at, id LIMIT ?4`,
    )
    .bind(value, after.at, after.id, page.limit + 1)
    .all<StoredDeliveryEvent>();
  return takePage(results, page.limit, (r) => ({ at: r.at, id: r.id }));
}

export interface StoredDeliveryEvent {
  id: number;
  event_id: string;
  email_id: number;
  record_activity_id: number;
  kind: DeliveryEventKind;
  address: string;
  detail: string | null;
  provider: string;
  at: number;
  received_at: number;
}
