import type { Bindings } from "../env";

/**
 * The send rate's contract, declared by its client: the mailer reserves send times from one `SendThrottle` Durable
 * Object per transport (src/objects/throttle.ts implements it), shared by every Scheduler shard and every request.
 */
export interface Reservation {
  /** When each granted send may go, epoch ms, in order; fewer than asked when the rest would wait too long. */
  slots: number[];
  /** When the first send that was not granted could go: the caller defers the rest until then. */
  nextFree: number;
}

export interface SendRateRequest {
  count: number;
  ratePerSecond: number;
  maxWaitMs: number;
}

/** Reserves send times from the transport's throttle (one `SendThrottle` object per transport, shared by all shards). */
export function reserveSends(env: Bindings, transport: string, request: SendRateRequest): Promise<Reservation> {
  const stub = env.SEND_THROTTLE.get(env.SEND_THROTTLE.idFromName(`transport-${transport}`));
  return stub.reserve(request);
}
