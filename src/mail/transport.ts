import type { Address } from "../env";

/** A composed e-mail as the transports see it: the raw MIME message, and its parts for HTTP APIs that want them. */
export interface OutgoingEmail {
  from: Address;
  to: Address;
  replyTo: Address | null;
  subject: string;
  html: string;
  text: string;
  /** The RFC 5322 message, CRLF line ends. */
  raw: string;
  messageId: string;
  /** List-Unsubscribe and List-Unsubscribe-Post, for transports that do not send `raw`. */
  listHeaders: Record<string, string>;
}

/**
 * `providerId`: the provider's id of the accepted message, which its delivery events name (null when it gave none).
 * `retry`: the fault may pass (5xx, timeout); otherwise it is permanent and the reason is shown. `quota`: the provider
 * refused for now because of a rate or a quota (429): the work waits, no sooner than `retryAfterMs`, and the wait is
 * not counted as a failed attempt.
 */
export type SendResult =
  | { ok: true; providerId: string | null }
  | { ok: false; retry: boolean; error: string; retryAfterMs?: number; quota?: boolean };

export type TransportName = "local" | "cloudflare" | "mailchannels";

/** One way of delivering e-mail. `send` never throws: every fault is a SendResult. */
export interface Transport {
  readonly name: TransportName;
  send(message: OutgoingEmail): Promise<SendResult>;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
