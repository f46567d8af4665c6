import type { LinkKind } from "../db/schema/emails";
import { unpackLinkUrls } from "../email/link-urls";
import { stagedEmailRow } from "../email/staged";
import { isSignedKey, type SignedKey, verifyKey } from "../signing/keys";
import { Lru } from "./lru";

/** A tracking key as the routes need it: what it points to and which e-mail, activity and scenario it belongs to. */
export interface TrackedLink {
  key: string;
  kind: LinkKind;
  /** The URL stored at send time when it is an http(s) URL; null for the pixel (or a stored value that is not one). */
  url: string | null;
  emailId: number;
  recordActivityId: number;
  scenarioId: number | null;
  activityId: number | null;
  /**
   * When the e-mail was handed to the transport; null while it is being sent; undefined when that is unknown (an
   * attempt that reported a failure yet was delivered, since a hit proves it was): the timing rule then cannot apply.
   */
  sentAt?: number | null;
}

/**
 * Keys are signed (`{emailId}-{kind}{position}-{mac}`, `src/signing/keys.ts`) or, for e-mails sent before, random
 * base64url (96 bits: 16 characters) with a `links` row; anything else is not worth a lookup.
 */
const KEY = /^[A-Za-z0-9_-]{8,64}$/;
export const isLinkKey = (key: string) => KEY.test(key);

/** Links never change once their e-mail is sent, so each layer may keep them as long as it likes. */
const MEMORY_CAPACITY = 5_000;
const CACHE_SECONDS = 365 * 24 * 3600;
const memory = new Lru<string, TrackedLink>(MEMORY_CAPACITY);

/** The isolate's copy of a link, if it has one: the hot path, with no I/O at all. */
export function rememberedLink(key: string): TrackedLink | undefined {
  return memory.get(key);
}

/** Empties the isolate's copy (tests use it to reach the Cache API layer). */
export function forgetLinks(): void {
  memory.clear();
}

interface LinkRow {
  key: string;
  kind: LinkKind;
  url: string | null;
  email_id: number;
  record_activity_id: number;
  scenario_id: number | null;
  activity_id: number | null;
  sent_at: number | null;
  status: string | null;
}

/** Legacy keys: a `links` row each (e-mails sent before keys were signed). */
const LINK_SQL = `
  SELECT l.key, l.kind, l.url, l.email_id, l.record_activity_id,
         COALESCE(ra.scenario_id, e.scenario_id) AS scenario_id, COALESCE(ra.activity_id, e.activity_id) AS activity_id,
         e.sent_at, e.status
  FROM links l
  LEFT JOIN emails e ON e.id = l.email_id
  LEFT JOIN record_activities ra ON ra.id = l.record_activity_id
  WHERE l.key = ?`;

interface EmailLinkRow {
  record_activity_id: number;
  scenario_id: number;
  activity_id: number;
  scenario_record_id: number;
  sent_at: number | null;
  status: string;
  link_urls: string | null;
}

/** Signed keys: one primary-key read of the e-mail they name (from a replica, `linkRow`). */
const EMAIL_SQL = `
  SELECT record_activity_id, scenario_id, activity_id, scenario_record_id, sent_at, status, link_urls
  FROM email_archive WHERE id = ?`;

/**
 * A link's row from any D1 replica (read replication, docs/scaling.md): what a key points to never changes once its
 * e-mail is sent. A replica that has not seen the e-mail yet, or still sees it being sent, may be behind the primary
 * (a click right after the send): the primary is asked then, so a replica's lag never turns a click into a 404.
 */
async function linkRow<T extends { status: string | null }>(
  d1: D1Database,
  sql: string,
  value: string | number,
): Promise<T | null> {
  const fromReplica = await d1.withSession("first-unconstrained").prepare(sql).bind(value).first<T>();
  if (fromReplica && fromReplica.status !== "sending") return fromReplica;
  return d1.prepare(sql).bind(value).first<T>();
}

/**
 * The e-mail row a signed key names and the URL at its position; null when there is no such e-mail or position. An
 * e-mail delivered but not archived yet (its row is inserted once the transport answered) is found staged in its
 * claim: only after the archive missed, on the primary.
 */
export async function signedLinkTarget(
  d1: D1Database,
  k: SignedKey,
): Promise<{ row: EmailLinkRow; url: string | null } | null> {
  const row =
    (await linkRow<EmailLinkRow>(d1, EMAIL_SQL, k.emailId)) ?? (await stagedEmailRow<EmailLinkRow>(d1, k.emailId));
  if (!row) return null;
  if (k.kind === "open") return { row, url: null };
  const urls = await unpackLinkUrls(row.link_urls);
  const url = urls[k.position];
  return url === undefined ? null : { row, url };
}

/** The link from D1: `k` is the verified content of a signed key, null for a legacy key. */
async function lookUp(d1: D1Database, key: string, k: SignedKey | null): Promise<TrackedLink | null> {
  if (k) {
    const found = await signedLinkTarget(d1, k);
    if (!found) return null;
    const { row, url } = found;
    return {
      key,
      kind: k.kind,
      url: httpUrl(url),
      emailId: k.emailId,
      recordActivityId: row.record_activity_id,
      scenarioId: row.scenario_id,
      activityId: row.activity_id,
      sentAt: row.sent_at ?? (row.status === "sending" ? null : undefined),
    };
  }
  const row = await linkRow<LinkRow>(d1, LINK_SQL, key);
  if (!row) return null;
  return {
    key: row.key,
    kind: row.kind,
    url: httpUrl(row.url),
    emailId: row.email_id,
    recordActivityId: row.record_activity_id,
    scenarioId: row.scenario_id,
    activityId: row.activity_id,
    sentAt: row.sent_at ?? (row.status === "sending" ? null : undefined),
  };
}

/**
 * Finds a link by key: the isolate's LRU, then the colo's Cache API, then D1 (any replica). A signed key's MAC is
 * checked before anything else, so a forged or altered key costs no cache or database read. Only a link whose e-mail
 * has been sent is kept by the first two (its `sent_at` decides the timing rule of classification, so it must not be cached as
 * null). The Cache API write is handed to `waitUntil`, never awaited.
 */
export async function findLink(
  d1: D1Database,
  key: string,
  options: { origin: string; secret: string | null; waitUntil: (work: Promise<unknown>) => void },
): Promise<TrackedLink | null> {
  const remembered = memory.get(key);
  if (remembered) return remembered;
  let signed: SignedKey | null = null;
  if (isSignedKey(key)) {
    if (options.secret === null) {
      console.error("TRACKING_SECRET is not set: signed tracking keys cannot be checked");
      return null;
    }
    signed = await verifyKey(options.secret, key);
    if (!signed) return null;
  }

  const cacheKey = new Request(`${options.origin}/__tracking/links/${key}`);
  const cached = await fromCache(cacheKey);
  if (cached) {
    memory.set(key, cached);
    return cached;
  }

  const link = await lookUp(d1, key, signed);
  if (!link) return null;
  if (typeof link.sentAt === "number") {
    memory.set(key, link);
    const response = new Response(JSON.stringify(link), {
      headers: { "content-type": "application/json", "cache-control": `public, max-age=${CACHE_SECONDS}, immutable` },
    });
    options.waitUntil(
      caches.default.put(cacheKey, response).catch((err) => console.error(`link ${key}: cache write failed`, err)),
    );
  }
  return link;
}

async function fromCache(cacheKey: Request): Promise<TrackedLink | null> {
  try {
    const response = await caches.default.match(cacheKey);
    return response ? await response.json<TrackedLink>() : null;
  } catch (err) {
    console.error("link cache read failed, falling back to D1", err);
    return null;
  }
}

/** The stored URL, normalised, when it is an absolute http(s) URL: the only kind of target a redirect may have. */
export function httpUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}
