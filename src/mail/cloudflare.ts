import { EmailMessage } from "cloudflare:email";
import { errorMessage, type SendResult, type Transport } from "./transport";

/** Error codes of the `send_email` binding that are a rate or a quota: the work waits, it is not an attempt. */
const QUOTA = new Set(["E_RATE_LIMIT_EXCEEDED", "E_DAILY_LIMIT_EXCEEDED"]);

/** Error codes of the `send_email` binding that may pass; the value is the wait to ask for, if any. */
const PASSING: Record<string, number | null> = {
  E_RATE_LIMIT_EXCEEDED: null,
  E_DAILY_LIMIT_EXCEEDED: 60 * 60_000,
  E_INTERNAL_SERVER_ERROR: null,
  E_DELIVERY_FAILED: null,
};

/** Codes that will fail the same way again: the message, the sender or the recipient is refused. */
const PERMANENT = new Set([
  "E_VALIDATION_ERROR",
  "E_FIELD_MISSING",
  "E_TOO_MANY_RECIPIENTS",
  "E_TOO_MANY_ATTACHMENTS",
  "E_SENDER_NOT_VERIFIED",
  "E_SENDER_DOMAIN_NOT_AVAILABLE",
  "E_RECIPIENT_NOT_ALLOWED",
  "E_RECIPIENT_SUPPRESSED",
  "E_CONTENT_TOO_LARGE",
  "E_HEADER_NOT_ALLOWED",
  "E_HEADER_USE_API_FIELD",
  "E_HEADER_VALUE_INVALID",
  "E_HEADER_VALUE_TOO_LONG",
  "E_HEADER_NAME_INVALID",
  "E_HEADERS_TOO_LARGE",
  "E_HEADERS_TOO_MANY",
]);

/** Messages of errors without a known code (the Email Routing flavour of the binding throws plain errors). */
const PERMANENT_TEXT =
  /not (?:a )?verified|unverified|not allowed|invalid|suppressed|malformed|too large|too big|no such/i;
const PASSING_TEXT =
  /rate.?limit|too many requests|quota|temporar|timeout|timed out|unavailable|overloaded|internal|try again/i;

/**
 * Cloudflare's `send_email` binding (Email Service / Email Routing): the raw MIME message, envelope from the From
 * address to the recipient. Thrown errors are mapped by their `code`, else by their message; an error that matches
 * nothing is retried, since the number of attempts is bounded.
 */
export function cloudflareTransport(binding: SendEmail): Transport {
  return {
    name: "cloudflare",
    async send(m) {
      try {
        const result = await binding.send(new EmailMessage(m.from.address, m.to.address, m.raw));
        return { ok: true, providerId: typeof result?.messageId === "string" ? result.messageId : null };
      } catch (err) {
        return classifyCloudflareError(err);
      }
    },
  };
}

export function classifyCloudflareError(err: unknown): SendResult {
  const code = typeof (err as { code?: unknown })?.code === "string" ? (err as { code: string }).code : null;
  const text = errorMessage(err);
  const error = `Cloudflare e-mail: ${code && !text.includes(code) ? `${code}: ${text}` : text}`;
  if (code !== null && code in PASSING) {
    const wait = PASSING[code];
    const quota = QUOTA.has(code) ? { quota: true } : {};
    return wait == null
      ? { ok: false, retry: true, error, ...quota }
      : { ok: false, retry: true, error, retryAfterMs: wait, ...quota };
  }
  if (code !== null && PERMANENT.has(code)) return { ok: false, retry: false, error };
  if (PASSING_TEXT.test(text)) return { ok: false, retry: true, error };
  return { ok: false, retry: !PERMANENT_TEXT.test(text), error };
}
