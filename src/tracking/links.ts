import type { LinkKind } from "../db/schema/emails";
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

/** Keys are random base64url (96 bits: 16 characters); anything else is not worth a lookup. */
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

const LINK_SQL = `
  SELECT l.key, l.kind, l.url, l.email_id, l.record_activity_id,
         COALESCE(ra.scenario_id, e.scenario_id) AS scenario_id, COALESCE(ra.activity_id, e.activity_id) AS activity_id,
         e.sent_at, e.status
  FROM links l
  LEFT JOIN emails e ON e.id = l.email_id
  LEFT JOIN record_activities ra ON ra.id = l.record_activity_id
  WHERE l.key = ?`;

/**
 * Finds a link by key: the isolate's LRU, then the colo's Cache API, then D1. Only a link whose e-mail has been sent is
 * kept by the first two (its `sent_at` decides the timing rule of classification, so it must not be cached as null).
 * The Cache API write is handed to `waitUntil`, never awaited.
 */
export async function findLink(
  d1: D1Database,
  key: string,
  options: { origin: string; waitUntil: (work: Promise<unknown>) => void },
): Promise<TrackedLink | null> {
  const remembered = memory.get(key);
  if (remembered) return remembered;

  const cacheKey = new Request(`${options.origin}/__tracking/links/${key}`);
  const cached = await fromCache(cacheKey);
  if (cached) {
    memory.set(key, cached);
    return cached;
  }

  const row = await d1.prepare(LINK_SQL).bind(key).first<LinkRow>();
  if (!row) return null;
  const link: TrackedLink = {
    key: row.key,
    kind: row.kind,
    url: httpUrl(row.url),
    emailId: row.email_id,
    recordActivityId: row.record_activity_id,
    scenarioId: row.scenario_id,
    activityId: row.activity_id,
    sentAt: row.sent_at ?? (row.status === "sending" ? null : undefined),
  };
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
