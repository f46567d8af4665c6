import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { Reservation } from "../email/send-rate";
import type { Bindings } from "../env";

export const ReserveInput = z.object({
  count: z.number().int().min(1).max(10_000),
  ratePerSecond: z.number().positive().finite(),
  maxWaitMs: z.number().int().min(0).max(60_000),
});

/**
 * The send rate of one transport, shared by every Scheduler shard and every request: one object per transport
 * (named after it). It hands out send times spaced 1/rate apart (a token bucket of one token: GCRA), so the provider
 * never sees more than the configured rate however many shards send at once, and a batch learns at once which of its
 * e-mails must wait instead of trying and being refused. In memory: after a restart it starts from now, which
 * can only make it slower for the sends reserved before.
 */
export class SendThrottle extends DurableObject<Bindings> {
  /** The theoretical time of the next free slot. */
  private next = 0;

  /** RPC: up to `count` send times within `maxWaitMs` from now. A malformed payload grants nothing. */
  async reserve(input: unknown): Promise<Reservation> {
    const parsed = ReserveInput.safeParse(input);
    const now = Date.now();
    if (!parsed.success) return { slots: [], nextFree: now + 1000 };
    const { count, ratePerSecond, maxWaitMs } = parsed.data;
    const interval = 1000 / ratePerSecond;
    const slots: number[] = [];
    let next = Math.max(now, this.next);
    while (slots.length < count && next - now <= maxWaitMs) {
      slots.push(Math.round(next));
      next += interval;
    }
    this.next = next;
    return { slots, nextFree: Math.ceil(next) };
  }
}
