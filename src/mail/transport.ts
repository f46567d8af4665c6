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

/** `retry`: the fault may pass (rate limit, 5xx, timeout); otherwise it is permanent and the reason is shown. */
export type SendResult = { ok: true } | { ok: false; retry: boolean; error: string; retryAfterMs?: number };

export type TransportName = "local" | "cloudflare" | "mailchannels";

/** One way of delivering e-mail. `send` never throws: every fault is a SendResult. */
export interface Transport {
  readonly name: TransportName;
  send(message: OutgoingEmail): Promise<SendResult>;
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
