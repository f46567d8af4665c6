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

/** Events a queue message carries: well under a queue message's 128 KB. */
const EVENTS_PER_MESSAGE = 100;
/** Events one D1 transaction records: their JSON stays far under D1's limit on a bound string. */
const EVENTS_PER_TRANSACTION = 500;
/** Messages a `sendBatch` call takes at most. */
const MESSAGES_PER_SEND = 100;

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
  const messages: MessageSendRequest<DeliveryEvent[]>[] = [];
  for (let i = 0; i < matched.length; i += EVENTS_PER_MESSAGE) {
    messages.push({ body: matched.slice(i, i + EVENTS_PER_MESSAGE), contentType: "json" });
  }
  for (let i = 0; i < messages.length; i += MESSAGES_PER_SEND) {
    await env.DELIVERY_EVENTS.sendBatch(messages.slice(i, i + MESSAGES_PER_SEND));
  }
  return { accepted: matched.length, counts: null };
}

/**
 * The queue consumer: the batch's events in D1 transactions of 500. A failure retries the whole batch, which is safe:
 * an event already recorded is not recorded or applied again.
 */
export async function consumeDeliveryEvents(batch: MessageBatch<unknown>, env: Bindings, ctx: ExecutionContext) {
  const events = batch.messages.flatMap((m) => (Array.isArray(m.body) ? (m.body as DeliveryEvent[]) : []));
  const engine = buildServices(env, { waitUntil: (p) => ctx.waitUntil(p) });
  const config = getConfig(env);
  for (let i = 0; i < events.length; i += EVENTS_PER_TRANSACTION) {
    await recordDeliveryEvents(engine, events.slice(i, i + EVENTS_PER_TRANSACTION), config);
  }
  batch.ackAll();
}
