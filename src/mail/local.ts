import type { Transport } from "./transport";

/**
 * Development: delivers nothing, over no network, and always succeeds. Every message is archived like any other (the
 * body in R2), so it is read back through `GET /api/emails/{id}` and `/raw`.
 */
export function localTransport(): Transport {
  return {
    name: "local",
    async send() {
      return { ok: true };
    },
  };
}
