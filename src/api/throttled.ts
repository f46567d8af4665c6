import { SIGN_IN_BLOCK_SECONDS, SIGN_IN_FAILURES } from "../http/sign-in-throttle";

/**
 * The sign-in throttle's answer in the OpenAPI document (src/http/sign-in-throttle.ts): every operation behind the
 * admin token (those that can answer 401) can also answer 429, to a client address that failed too many sign-ins.
 */
export const THROTTLED_RESPONSE = {
  description:
    `Too many failed sign-ins from this client address: more than ${SIGN_IN_FAILURES} bad tokens a minute, then ` +
    `every request is refused for ${SIGN_IN_BLOCK_SECONDS} s, even with the right token (docs/limits.md)`,
  headers: {
    "Retry-After": { description: "seconds until the client may try again", schema: { type: "integer" } },
  },
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
} as const;

type Operation = { responses?: Record<string, unknown> };

/** The operation, with the 429 beside its 401. */
export function withThrottledAnswer<T extends Operation>(op: T): T {
  if (!op.responses || !("401" in op.responses) || "429" in op.responses) return op;
  return { ...op, responses: { ...op.responses, 429: THROTTLED_RESPONSE } };
}
