import { randomHex } from "../ids";
import type { Transport } from "./transport";

export interface LocalOptions {
  /**
   * For tests and benchmarks only (`LOCAL_TRANSPORT_429_RATE`): the share of sends answered as a provider over its
   * rate would, 429 with Retry-After one second. 0 in development.
   */
  quotaRate?: number;
  random?: () => number;
}

/**
 * Development: delivers nothing, over no network, and succeeds with an id of its own (`local-…`), as a provider
 * would give. Every message is archived like any other (the body in R2), so it is read back through
 * `GET /api/emails/{id}` and `/raw`.
 */
export function localTransport(o: LocalOptions = {}): Transport {
  const rate = o.quotaRate ?? 0;
  const random = o.random ?? Math.random;
  return {
    name: "local",
    async send() {
      if (rate > 0 && random() < rate) {
        return { ok: false, retry: true, quota: true, retryAfterMs: 1000, error: "local 429: over the test quota" };
      }
      return { ok: true, providerId: `local-${randomHex(12)}` };
    },
  };
}
