import { normalizeAddress } from "../../../email/address";
import type { ActionOutcome } from "../../ports";
import { suppressedAmong, suppressedReason } from "../../recipients/suppressions";
import type { Gate } from "./gate";

/**
 * The suppression list: a `send_email` record activity whose party's address is on it is cancelled with the reason,
 * in every scenario, before anything is composed. One query for the batch. An address that does not parse is left to
 * the action, which fails it with the reason.
 */
export const suppression: Gate = {
  name: "suppression",
  async check(jobs, { engine }) {
    const settled = new Map<number, ActionOutcome>();
    const addressOf = new Map<number, string>();
    for (const j of jobs) {
      if (j.activity.action !== "send_email") continue;
      const email = j.job.party?.fields.email;
      const address = typeof email === "string" ? normalizeAddress(email) : null;
      if (address !== null) addressOf.set(j.claimed.id, address);
    }
    if (addressOf.size === 0) return settled;
    const suppressed = await suppressedAmong(engine.d1, [...addressOf.values()]);
    for (const [id, address] of addressOf) {
      const reason = suppressed.get(address);
      if (reason) settled.set(id, { status: "cancelled", reason: suppressedReason(reason) });
    }
    return settled;
  },
};
