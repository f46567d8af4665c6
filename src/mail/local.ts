import { randomHex } from "../ids";
import { errorMessage, type OutgoingEmail, type Transport } from "./transport";

export interface LocalOptions {
  /**
   * For tests and benchmarks only (`LOCAL_TRANSPORT_429_RATE`): the share of sends answered as a provider over its
   * rate would, 429 with Retry-After one second. 0 in development.
   */
  quotaRate?: number;
  random?: () => number;
  /**
   * `LOCAL_OUTBOX_URL`: a listener on this machine that is handed each accepted message (a JSON POST) before the send
   * is answered, so what it holds is exactly what was delivered. Null: no delivery log.
   */
  outboxUrl?: string | null;
  /** How long the listener may take to answer; a slower one fails the send (retried). */
  outboxTimeoutMs?: number;
}

/** What the delivery log receives for each accepted message. */
export interface OutboxEntry {
  /** The e-mail's id, read from its Message-ID (`<{id}.{mac}@{domain}>`); null when the Message-ID is not ours. */
  email_id: string | null;
  to: string;
  subject: string;
  message_id: string;
  provider_id: string;
}

/** The e-mail id a derived Message-ID carries (src/email/columns.ts), or null. */
export function emailIdOfMessageId(messageId: string): string | null {
  return /^<(\d+)\.[^@>]+@[^>]+>$/.exec(messageId.trim())?.[1] ?? null;
}

/**
 * Development: delivers nothing, over no network, and succeeds with an id of its own (`local-…`), as a provider
 * would give. Every message is archived like any other (the body in R2), so it is read back through
 * `GET /api/emails/{id}` and `/raw`. With an outbox URL, each accepted message is first posted to that listener (the
 * delivery log of `npm start` and the fault benchmark): a POST that fails or is refused fails the send, to be tried
 * again, so "sent" means the listener has it.
 */
export function localTransport(o: LocalOptions = {}): Transport {
  const rate = o.quotaRate ?? 0;
  const random = o.random ?? Math.random;
  const outbox = o.outboxUrl ?? null;
  const timeoutMs = o.outboxTimeoutMs ?? 10_000;
  return {
    name: "local",
    async send(message: OutgoingEmail) {
      if (rate > 0 && random() < rate) {
        return { ok: false, retry: true, quota: true, retryAfterMs: 1000, error: "local 429: over the test quota" };
      }
      const providerId = `local-${randomHex(12)}`;
      if (outbox !== null) {
        const entry: OutboxEntry = {
          email_id: emailIdOfMessageId(message.messageId),
          to: message.to.address,
          subject: message.subject,
          message_id: message.messageId,
          provider_id: providerId,
        };
        try {
          const res = await fetch(outbox, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(entry),
            signal: AbortSignal.timeout(timeoutMs),
          });
          await res.body?.cancel();
          if (!res.ok) return { ok: false, retry: true, error: `local outbox answered ${res.status}` };
        } catch (err) {
          return { ok: false, retry: true, error: `local outbox unreachable: ${errorMessage(err)}` };
        }
      }
      return { ok: true, providerId };
    },
  };
}
