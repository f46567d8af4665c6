import type { DeliveryEventKind } from "../db/schema";
import type { DeliveryEventInput } from "../engine/recipients/deliveries";
import { invalid } from "../errors";

/** MailChannels' event types (docs: "Supported event types") and what each is here. */
const KINDS: Record<string, DeliveryEventKind> = {
  delivered: "delivered",
  "soft-bounced": "soft_bounce",
  "hard-bounced": "hard_bounce",
  complained: "complaint",
  dropped: "rejected",
  unsubscribed: "unsubscribe",
};
/** Types MailChannels sends that carry nothing for deliverability: acknowledged, not recorded (we track our own opens). */
const IGNORED = new Set(["processed", "open", "click", "test"]);

interface MailChannelsEvent {
  event?: unknown;
  request_id?: unknown;
  timestamp?: unknown;
  status?: unknown;
  reason?: unknown;
  recipients?: unknown;
  smtp_id?: unknown;
}

/**
 * Maps a MailChannels webhook body (a JSON array of events, up to 1,000) to delivery events. An event of an unknown
 * type, or without its request id, is a 400 naming it; `processed`, `open`, `click` and `test` are skipped. MailChannels
 * gives no event id, so one is derived from what identifies the event: the same delivery retried has the same id.
 */
export async function mailchannelsEvents(body: unknown): Promise<{ events: DeliveryEventInput[]; ignored: number }> {
  const list = Array.isArray(body) ? body : body !== null && typeof body === "object" ? [body] : null;
  if (list === null) throw invalid("body: must be a JSON array of MailChannels events");
  const events: DeliveryEventInput[] = [];
  let ignored = 0;
  for (const [i, raw] of list.entries()) {
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) throw invalid(`[${i}]: must be an event object`);
    const ev = raw as MailChannelsEvent;
    if (typeof ev.event !== "string") throw invalid(`[${i}].event: required, the event type`);
    if (IGNORED.has(ev.event)) {
      ignored++;
      continue;
    }
    const kind = KINDS[ev.event];
    if (!kind) throw invalid(`[${i}].event: unknown MailChannels event type "${ev.event.slice(0, 40)}"`);
    if (typeof ev.request_id !== "string" || ev.request_id === "") {
      throw invalid(`[${i}].request_id: required, the request id of the send this event is about`);
    }
    const seconds = typeof ev.timestamp === "number" && Number.isFinite(ev.timestamp) ? ev.timestamp : null;
    const detail = [ev.status, ev.reason].filter((v) => typeof v === "string" && v !== "").join(" ") || null;
    const recipients = Array.isArray(ev.recipients) ? ev.recipients.join(",") : "";
    const identity = [ev.request_id, ev.event, seconds ?? "", recipients, ev.status ?? "", ev.smtp_id ?? ""].join("|");
    events.push({
      eventId: `mailchannels:${await sha256Hex(identity)}`,
      kind,
      provider: "mailchannels",
      providerMessageId: ev.request_id,
      emailId: null,
      at: seconds === null ? Date.now() : seconds * 1000,
      detail: detail?.slice(0, 1000) ?? null,
    });
  }
  return { events, ignored };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return [...digest.slice(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
