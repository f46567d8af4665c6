/**
 * E-mail addresses as real senders accept them (RFC 5321/5322 without what no transport takes): a dot-atom local part
 * of printable ASCII, at most 64 octets; a domain name (IDN domains punycoded), never an address literal; at most
 * 254 octets in all. Quoted local parts and comments are refused: MailChannels and Cloudflare's binding do not take
 * them, and they are how look-alike addresses are made.
 */

export type AddressCheck = { ok: true; address: string; normalized: string } | { ok: false; problem: string };

const MAX_LOCAL = 64;
const MAX_ADDRESS = 254;
const MAX_LABEL = 63;
/** RFC 5322 `atext`. */
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
/** Control characters, format characters (zero-width, bidi marks, soft hyphen), and blanks that render as nothing. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0\u2800]/u;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * Checks an address and gives it back ready to send (the domain punycoded and lower-cased) and normalized for the
 * suppression list (all lower-cased: providers treat local parts without regard to case).
 */
export function checkEmailAddress(text: string): AddressCheck {
  if (INVISIBLE.test(text)) return bad("contains a control or invisible character");
  if (/\s/.test(text)) return bad("contains a space");
  const at = text.lastIndexOf("@");
  if (at < 0) return bad('has no "@"');
  const local = text.slice(0, at);
  const domain = text.slice(at + 1);
  if (local === "") return bad("has an empty local part (before the @)");
  if (local.startsWith('"')) return bad("has a quoted local part, which senders do not accept");
  if (local.includes("@")) return bad('has more than one "@"');
  if (local.split(".").some((part) => part === "")) {
    return bad("has an empty part in its local part (a leading, trailing or doubled dot)");
  }
  if (!local.split(".").every((part) => ATEXT.test(part))) {
    return bad("has a character that is not allowed in its local part");
  }
  if (local.length > MAX_LOCAL) return bad(`has a local part longer than ${MAX_LOCAL} characters`);
  if (domain === "") return bad("has an empty domain (after the @)");
  if (domain.startsWith("[")) return bad("has an address literal as its domain, which senders refuse");
  const ascii = toAsciiDomain(domain);
  if (ascii === null) return bad("has a domain that is not a valid host name");
  const labels = ascii.split(".");
  if (labels.some((l) => l === "")) return bad("has an empty part in its domain (a leading, trailing or doubled dot)");
  if (labels.length < 2) return bad("has a domain without a dot");
  if (labels.some((l) => l.length > MAX_LABEL)) return bad(`has a domain label longer than ${MAX_LABEL} characters`);
  if (!labels.every((l) => LABEL.test(l))) return bad("has a character that is not allowed in its domain");
  if (/^[0-9]+$/.test(labels[labels.length - 1] as string)) return bad("has a numeric top-level domain");
  const address = `${local}@${ascii}`;
  if (address.length > MAX_ADDRESS) return bad(`is longer than ${MAX_ADDRESS} characters`);
  return { ok: true, address, normalized: address.toLowerCase() };
}

/** The lower-case form the suppression list is keyed by, or null when the text is not an address we would send to. */
export function normalizeAddress(text: string): string | null {
  const checked = checkEmailAddress(text.trim());
  return checked.ok ? checked.normalized : null;
}

/**
 * IDNA to ASCII through the runtime's URL parser (workerd and browsers apply UTS #46): `bücher.example` becomes
 * `xn--bcher-kva.example`. Null when the parser refuses it, or reads it as an IP address.
 */
function toAsciiDomain(domain: string): string | null {
  if (/[/?#:\\%]/.test(domain)) return null;
  let host: string;
  try {
    host = new URL(`http://${domain}`).hostname;
  } catch {
    return null;
  }
  if (host.startsWith("[") || /^[0-9.]+$/.test(host)) return null;
  return host;
}

const bad = (problem: string): AddressCheck => ({ ok: false, problem });
