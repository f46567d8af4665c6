import type { HitKind } from "../db/schema/emails";
import { recordEmailEvent } from "../engine/reactions/email-events";
import type { Bindings } from "../env";
import { AppError } from "../errors";
import { buildServices } from "../services";
import { type Classification, classify, type HitRequest } from "./classify";

/** The request facts classification needs, read while the request is at hand (the work itself runs later). */
export type RequestFacts = Omit<HitRequest, "kind" | "sentAt">;

export function requestFacts(request: Request): RequestFacts {
  const cf = request.cf as { asn?: unknown; asOrganization?: unknown; country?: unknown } | undefined;
  return {
    method: request.method,
    userAgent: request.headers.get("user-agent"),
    referrer: request.headers.get("referer"),
    asn: typeof cf?.asn === "number" ? cf.asn : null,
    asOrganization: typeof cf?.asOrganization === "string" ? cf.asOrganization : null,
    country: typeof cf?.country === "string" ? cf.country : null,
    now: Date.now(),
  };
}

/** What a hit is about. Unknown parts (an unsubscribe without a stored next page has no e-mail) stay null. */
export interface HitTarget {
  kind: HitKind;
  linkKey: string | null;
  emailId: number | null;
  recordActivityId: number | null;
  scenarioId: number | null;
  activityId: number | null;
  /** The e-mail's `sent_at` for the timing rule; undefined when the hit is not about one e-mail. */
  sentAt?: number | null;
}

const EVENTS = { click: "clicked", open: "opened" } as const;

interface PendingHit {
  target: HitTarget;
  verdict: Classification;
  at: number;
}

/**
 * Hits wait this long in the isolate so that many share one D1 write: a hot link hit thousands of times a second
 * costs a few writes a second, not thousands. The request that opens a window keeps its write in `waitUntil`.
 */
export const HIT_FLUSH_MS = 250;
/** A flush writes at most this many hits a statement (they travel as one JSON parameter). */
const HITS_PER_STATEMENT = 500;

let pending: PendingHit[] = [];
/** When the open window's write was scheduled; null when no window is open. */
let flushingSince: number | null = null;
/** A window whose write never started (its request was torn down first) is given up after this, and reopened. */
const STALE_WINDOW_MS = 10_000;

/**
 * Classifies a hit and queues it: stored (one `hits` row, no IP address) with the other hits of the next few
 * milliseconds, and for a person's click or open the e-mail event is recorded. The request that opens a batch holds
 * its write in `waitUntil`; the hits queued after it ride along, so a busy link costs a few writes a second and its
 * other requests end with their answer (no request waits on another request's promise, which the runtime forbids).
 * Failures are logged, never thrown.
 */
export function recordHit(
  env: Bindings,
  target: HitTarget,
  facts: RequestFacts,
  waitUntil: (work: Promise<unknown>) => void,
): void {
  const verdict = classify({ ...facts, kind: target.kind, sentAt: target.sentAt });
  pending.push({ target, verdict, at: facts.now });
  if (flushingSince === null || facts.now - flushingSince > STALE_WINDOW_MS) {
    flushingSince = facts.now;
    const write = new Promise<void>((resolve) => setTimeout(resolve, HIT_FLUSH_MS)).then(() => {
      const batch = pending;
      pending = [];
      flushingSince = null;
      return flush(env, batch, waitUntil);
    });
    waitUntil(write.catch((err) => console.error("tracking hits", err)));
  }
}

async function flush(env: Bindings, batch: PendingHit[], waitUntil: (work: Promise<unknown>) => void): Promise<void> {
  for (let i = 0; i < batch.length; i += HITS_PER_STATEMENT) {
    const rows = batch.slice(i, i + HITS_PER_STATEMENT).map(({ target: t, verdict: v, at }) => ({
      kind: t.kind,
      key: t.linkKey,
      email: t.emailId,
      ra: t.recordActivityId,
      scenario: t.scenarioId,
      activity: t.activityId,
      human: v.human ? 1 : 0,
      reason: v.reason,
      client: v.client,
      at,
    }));
    try {
      await env.DB.prepare(
        `INSERT INTO hits (kind, link_key, email_id, record_activity_id, scenario_id, activity_id, human, reason, client, at)
         SELECT json_extract(value, '$.kind'), json_extract(value, '$.key'), json_extract(value, '$.email'),
                json_extract(value, '$.ra'), json_extract(value, '$.scenario'), json_extract(value, '$.activity'),
                json_extract(value, '$.human'), json_extract(value, '$.reason'), json_extract(value, '$.client'),
                json_extract(value, '$.at')
         FROM json_each(?1)`,
      )
        .bind(JSON.stringify(rows))
        .run();
    } catch (err) {
      console.error(`${rows.length} tracking hits could not be stored`, err);
    }
  }
  // One event per record activity and kind: a click first, since it implies the open.
  const events = new Map<string, { ra: number; kind: "click" | "open" }>();
  for (const { target, verdict } of batch) {
    const kind = target.kind;
    if (!verdict.human || (kind !== "click" && kind !== "open") || target.recordActivityId === null) continue;
    events.set(`${target.recordActivityId}:${kind}`, { ra: target.recordActivityId, kind });
  }
  const ordered = [...events.values()].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "click" ? -1 : 1));
  for (const { ra, kind } of ordered) {
    try {
      await recordEmailEvent(buildServices(env, { waitUntil }), ra, EVENTS[kind]);
    } catch (err) {
      // A record activity that was deleted, or that is not one that sent an e-mail: the hit stays stored.
      if (err instanceof AppError) console.warn(`${kind} hit on record activity ${ra}: no event (${err.message})`);
      else console.error(`${kind} hit on record activity ${ra}: event failed`, err);
    }
  }
}
