import { type Address, parseAddress } from "../env";
import { checkEmailAddress } from "./address";

/** The domain of an address, lower case. */
export const domainOf = (address: string): string => address.slice(address.lastIndexOf("@") + 1).toLowerCase();

/**
 * From and Reply-To. The activity's `email_from` is used as From when it is on the configured sender's domain (the
 * domain the transport is set up to send and sign for). On another domain, sending as it would fail DMARC or be
 * refused, so the e-mail goes From the configured address, under the activity's display name when it has one, and
 * replies go to the activity's address.
 */
export function sendersOf(
  activityFrom: string | null,
  configured: Address,
): { from: Address; replyTo: Address | null } {
  const wanted = activityFrom === null ? null : parseAddress(activityFrom);
  if (!wanted) return { from: configured, replyTo: null };
  if (domainOf(wanted.address) === domainOf(configured.address)) return { from: wanted, replyTo: null };
  return { from: { name: wanted.name ?? configured.name, address: configured.address }, replyTo: wanted };
}

/** The recipient from the party's `email` and `name` fields, or why there is none. */
export function recipientOf(party: { fields: Record<string, unknown> } | null): Address | { problem: string } {
  const email = party?.fields.email;
  if (typeof email !== "string" || email.trim() === "") return { problem: "the party has no e-mail address" };
  // Addresses are checked when written; one stored before the check, or by another way, is checked again here.
  const checked = checkEmailAddress(email.trim());
  if (!checked.ok) return { problem: `the party's e-mail address is not valid: it ${checked.problem}` };
  const name = party?.fields.name;
  return { name: typeof name === "string" && name.trim() ? name.trim() : null, address: checked.address };
}
