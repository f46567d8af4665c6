import type { Address } from "../env";
import { errorMessage, type OutgoingEmail, type SendResult, type Transport } from "./transport";

export const MAILCHANNELS_URL = "https://api.mailchannels.net/tx/v1/send";
const TIMEOUT_MS = 10_000;

export interface MailChannelsOptions {
  apiKey: string;
  dkim: { domain: string; selector: string; privateKey: string } | null;
  /** How long to wait for an answer before giving up (and retrying later). */
  timeoutMs?: number;
}

/**
 * The MailChannels Email API: one POST per e-mail with the parts as JSON (MailChannels builds the MIME message and
 * signs it with DKIM when the key is given). Message-ID is not sent: MailChannels lists it among the headers a
 * request cannot set, so the archived Message-ID is ours, not the one the recipient sees.
 *
 * Answers: 2xx sent (its `request_id` kept); 429 waits, no sooner than Retry-After; 5xx, a network error or no answer within 10 s
 * retried; any other 4xx (400 bad request, 401/403 key or domain refused, 413 too large) permanent, with the
 * provider's message.
 */
export function mailchannelsTransport(o: MailChannelsOptions): Transport {
  const timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
  return {
    name: "mailchannels",
    async send(m) {
      let res: Response;
      try {
        res = await fetch(MAILCHANNELS_URL, {
          method: "POST",
          headers: { "content-type": "application/json", "x-api-key": o.apiKey },
          body: JSON.stringify(mailchannelsPayload(m, o.dkim)),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
        const error = timedOut
          ? `MailChannels did not answer within ${timeoutMs / 1000} s`
          : `MailChannels could not be reached: ${errorMessage(err)}`;
        return { ok: false, retry: true, error };
      }
      if (res.ok) return { ok: true, providerId: await requestIdOf(res) };
      return failure(res.status, await providerMessage(res), res.headers.get("retry-after"));
    },
  };
}

/** The documented request body of POST /tx/v1/send. */
export function mailchannelsPayload(m: OutgoingEmail, dkim: MailChannelsOptions["dkim"]) {
  return {
    personalizations: [
      {
        to: [contact(m.to)],
        ...(dkim ? { dkim_domain: dkim.domain, dkim_selector: dkim.selector, dkim_private_key: dkim.privateKey } : {}),
      },
    ],
    from: contact(m.from),
    ...(m.replyTo ? { reply_to: contact(m.replyTo) } : {}),
    subject: m.subject,
    // MailChannels wants text/plain before text/html.
    content: [
      { type: "text/plain", value: m.text },
      { type: "text/html", value: m.html },
    ],
    headers: m.listHeaders,
  };
}

const contact = (a: Address) => (a.name ? { email: a.address, name: a.name } : { email: a.address });

function failure(status: number, message: string, retryAfter: string | null): SendResult {
  const error = `MailChannels ${status}: ${message}`;
  if (status === 429) {
    const wait = retryAfterMs(retryAfter);
    return wait === null
      ? { ok: false, retry: true, error, quota: true }
      : { ok: false, retry: true, error, retryAfterMs: wait, quota: true };
  }
  if (status >= 500 || status === 408) return { ok: false, retry: true, error };
  return { ok: false, retry: false, error };
}

/**
 * The `request_id` of an accepted send: MailChannels names it in every delivery event of the message, so it is the
 * id the archive keeps. Null when the answer has none (the e-mail is still sent; its events cannot be matched).
 */
async function requestIdOf(res: Response): Promise<string | null> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { request_id?: unknown };
    return typeof body.request_id === "string" && body.request_id !== "" ? body.request_id : null;
  } catch {
    return null;
  }
}

/** Retry-After as seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null || value.trim() === "") return null;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The provider's explanation: `errors` (strings or objects with `message`), `message`, `error`, or the text. */
async function providerMessage(res: Response): Promise<string> {
  const text = (await res.text().catch(() => "")).trim();
  try {
    const body = JSON.parse(text) as { errors?: unknown; message?: unknown; error?: unknown };
    if (Array.isArray(body.errors) && body.errors.length > 0) {
      return body.errors
        .map((e) => (typeof e === "string" ? e : ((e as { message?: string })?.message ?? JSON.stringify(e))))
        .join("; ")
        .slice(0, 500);
    }
    if (typeof body.message === "string") return body.message.slice(0, 500);
    if (typeof body.error === "string") return body.error.slice(0, 500);
  } catch {
    // not JSON: the text itself
  }
  return text.slice(0, 500) || res.statusText || "no message";
}
