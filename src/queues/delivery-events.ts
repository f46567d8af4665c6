import { chunkByBytes, jsonBytes } from "../db/chunk";
import {
  type DeliveryCounts,
  type DeliveryEvent,
  type DeliveryEventInput,
  matchDeliveryEvents,
  recordDeliveryEvents,
} from "../engine/recipients/deliveries";
import { type Bindings, getConfig } from "../env";
import { AppError } from "../errors";
import { buildServices } from "../services";

/**
 * Queues' documented limits (developers.cloudflare.com/queues/platform/limits): a message of at most 128 KB, a
 * `sendBatch` of at most 100 messages and 256 KB in all. Events are packed by their bytes under these, with room for
 * each message's own overhead, never by count: a burst of long bounce reasons is as safe as one of short ones.
 */
export const QUEUE_MESSAGE_BYTES = 96_000;
export const QUEUE_SEND_BYTES = 192_000;
export const QUEUE_SEND_MESSAGES = 100;

export interface AcceptedEvents {
  accepted: number;
  /** Recorded in the request (no queue binding), else null: the queue consumer records them. */
  counts: DeliveryCounts | null;
}

/**
 * Matches delivery events to their e-mails and hands them to the `DELIVERY_EVENTS` queue, which the same Worker
 * consumes: a burst of thousands is a few queue messages, recorded in D1 batches of a hundred, never a request that
 * must finish in time. An event whose e-mail is unknown refuses the whole request (nothing is queued).
 */
export async function acceptDeliveryEvents(
  env: Bindings,
  events: DeliveryEventInput[],
  field: (index: number) => string,
  ctx?: { waitUntil(p: Promise<unknown>): void },
): Promise<AcceptedEvents> {
  const { matched, unknown } = await matchDeliveryEvents(env.DB, events);
  if (unknown.length > 0) {
    const i = unknown[0] as number;
    const ev = events[i] as DeliveryEventInput;
    const what =
      ev.emailId !== null ? `e-mail ${ev.emailId}` : `an e-mail with provider message id "${ev.providerMessageId}"`;
    throw new AppError(
      "not_found",
      `${field(i)}: ${what} is not in the archive${unknown.length > 1 ? ` (and ${unknown.length - 1} more events)` : ""}; nothing was recorded`,
    );
  }
  if (!env.DELIVERY_EVENTS) {
    const engine = buildServices(env, { waitUntil: ctx ? (p) => ctx.waitUntil(p) : undefined });
    return { accepted: matched.length, counts: await recordDeliveryEvents(engine, matched, getConfig(env)) };
  }
  for (const request of packDeliveryEvents(matched)) await env.DELIVERY_EVENTS.sendBatch(request);
  return { accepted: matched.length, counts: null };
}

/**
 * The `sendBatch` calls that carry events: each message's JSON under QUEUE_MESSAGE_BYTES, each call under
 * QUEUE_SEND_MESSAGES messages and QUEUE_SEND_BYTES. An event is at most a few KB (its fields are bounded at the door).
 */
export function packDeliveryEvents(events: DeliveryEvent[]): MessageSendRequest<DeliveryEvent[]>[][] {
  const messages = chunkByBytes(events, QUEUE_MESSAGE_BYTES).map(
    (body): MessageSendRequest<DeliveryEvent[]> => ({ body, contentType: "json" }),
  );
  const sends: MessageSendRequest<DeliveryEvent[]>[][] = [];
  let send: MessageSendRequest<DeliveryEvent[]>[] = [];
  let bytes = 0;
  for (const m of messages) {
    const size = jsonBytes(m.body);
    if (send.length > 0 && (send.length >= QUEUE_SEND_MESSAGES || bytes + size > QUEUE_SEND_BYTES)) {
      sends.push(send);
      send = [];
      bytes = 0;
    }
    send.push(m);
    bytes += size;
  }
  if (send.length > 0) sends.push(send);
  return sends;
}

/**
 * The queue consumer: the batch's events in D1 transactions of at most 500 events and 1,000,000 bytes. A failure
 * retries the whole batch, which is safe: an event already recorded is not recorded or applied again.
 */
export async function consumeDeliveryEvents(batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext) {
  const events = batch.messages.flatMap((m) => (Array.isArray(m.body) ? (m.body as DeliveryEvent[]) : []));
  const engine = buildServices(env, { waitUntil: (p) => ctx.waitUntil(p) });
  const config = getConfig(env);
  await recordDeliveryEvents(engine, events, config);
  batch.ackAll();
}
