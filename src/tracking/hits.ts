import { getDb } from "../db/client";
import { type HitKind, hits } from "../db/schema/emails";
import { createEngine } from "../engine/context";
import { recordEmailEvent } from "../engine/events";
import type { Bindings } from "../env";
import { AppError } from "../errors";
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

/**
 * Classifies a hit, stores it (one `hits` row, no IP address), and for a person's click or open records the e-mail
 * event. Meant for `waitUntil`: it never throws, each failure is logged and the other step still runs.
 */
export async function recordHit(
  env: Bindings,
  target: HitTarget,
  facts: RequestFacts,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<Classification> {
  const verdict = classify({ ...facts, kind: target.kind, sentAt: target.sentAt });
  try {
    await getDb(env.DB).insert(hits).values({
      kind: target.kind,
      linkKey: target.linkKey,
      emailId: target.emailId,
      recordActivityId: target.recordActivityId,
      scenarioId: target.scenarioId,
      activityId: target.activityId,
      human: verdict.human,
      reason: verdict.reason,
      client: verdict.client,
      at: facts.now,
    });
  } catch (err) {
    console.error(`${target.kind} hit on ${target.linkKey ?? "-"}: could not store it`, err);
  }
  if (verdict.human && target.kind !== "unsubscribe" && target.recordActivityId !== null) {
    try {
      await recordEmailEvent(createEngine(env, { waitUntil }), target.recordActivityId, EVENTS[target.kind]);
    } catch (err) {
      // A record activity that was deleted, or that is not one that sent an e-mail: the hit stays stored.
      if (err instanceof AppError) console.warn(`${target.kind} hit on ${target.linkKey}: no event (${err.message})`);
      else console.error(`${target.kind} hit on ${target.linkKey}: event failed`, err);
    }
  }
  return verdict;
}
