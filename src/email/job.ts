import type { EmailTranslations } from "../db/schema";

/**
 * Where the engine meets e-mail: "send this activity's e-mail to this record" in, a result out.
 * The engine knows nothing of templates, MIME or transports; the e-mail module knows nothing of record activity states.
 */
export interface EmailJob {
  recordActivityId: number;
  /** 1 for the first try; the e-mail archive keeps one row per attempt. */
  attempt: number;
  scenario: { id: number; name: string };
  activity: {
    id: number;
    name: string;
    emailFrom: string | null;
    emailTitle: string;
    emailTemplate: string;
    /** Other language versions; the party's `lang` picks one (fallback chain), else the default above. */
    emailTranslations?: EmailTranslations | null;
    /** Whether the e-mail carries the open pixel (`openTracking` in rewrite.ts); true when absent. */
    openTracking?: boolean;
  };
  scenarioRecord: { id: number; token: string };
  record: { model: string; id: string; fields: Record<string, unknown> };
  /** The recipient; null when the record names no party or the party is gone. */
  party: { id: string; fields: Record<string, unknown> } | null;
}

export type SendOutcome =
  | { status: "sent"; emailId: number }
  /** A fault that may pass (timeout, 429, 5xx): try again later, no sooner than `retryAfterMs` when given. */
  | { status: "retry"; error: string; retryAfterMs: number | null; emailId: number | null }
  /**
   * Not now, and not a fault: the send rate's next turn, or the provider's 429 / quota with its Retry-After. The record
   * activity waits until `until` with the reason, and the attempt is not counted.
   */
  | { status: "deferred"; reason: string; until: number; emailId: number | null }
  /** A permanent fault (no address, template error, 4xx): the record activity fails with this reason. */
  | { status: "failed"; error: string; emailId: number | null };

export interface Mailer {
  /**
   * Sends every job (concurrently where the transport allows); one outcome per job, in order. Never throws per job.
   * `claimKey` names the claim that holds the jobs' record activities: the mailer may keep what it must write before
   * delivery in that claim's `claims` rows, which the commit, a takeover or the sweep then finish (docs/email.md).
   */
  sendBatch(jobs: EmailJob[], now: number, claimKey?: string): Promise<SendOutcome[]>;
}

/** How one attempt went, as the transport answered (the fields of a staged archive row's outcome). */
export interface AttemptOutcome {
  /** The e-mail's id. */
  id: number;
  st: "sent" | "failed" | "retry" | "abandoned";
  err: string | null;
  sent: number | null;
  pid: string | null;
  ans: number | null;
}

/**
 * Where the mailer writes, as they happen, what reached the transport and what it answered, so that a Worker killed
 * mid-batch leaves a true record: each write is durable before the next send (the Scheduler object's own storage,
 * whose writes the runtime makes durable before any outgoing request). The claim's recovery then carries it to D1
 * (src/engine/execution/recover.ts). Calls never throw and never wait.
 */
export interface DeliveryJournal {
  /** The attempt `id` of record activity `ra`, held by claim `claimKey`, is about to reach the transport. */
  trying(claimKey: string, attempt: { id: number; ra: number }): void;
  /** The transport answered it. */
  answered(claimKey: string, outcome: AttemptOutcome): void;
}
