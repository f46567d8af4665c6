import { base64url } from "../ids";

/**
 * Tracking keys that name their e-mail and the link's position under a MAC, so no row per link has to exist:
 * `{emailId}-{kind}{position}-{mac}`, kind `c` (click), `o` (the open pixel, position 0) or `n` (the page after
 * unsubscribing). The MAC is HMAC-SHA256 of `{emailId}-{kind}{position}` with TRACKING_SECRET, cut to 96 bits
 * (16 base64url characters): a key cannot be guessed, and changing any part of it (another e-mail, another position,
 * another kind) makes it a 404 without a database read. The position indexes the e-mail's `link_urls`.
 */

export type SignedKind = "click" | "open" | "next";

export interface SignedKey {
  emailId: number;
  kind: SignedKind;
  position: number;
}

const KIND_CODE: Record<SignedKind, string> = { click: "c", open: "o", next: "n" };
const CODE_KIND: Record<string, SignedKind> = { c: "click", o: "open", n: "next" };
/**
 * Positions go up to 999,999,999: more links than any e-mail the size limits let through has (a template of at most
 * 200,000 characters, its sections repeated over fields of at most 65,536 bytes), so every link that is signed is
 * tracked. A key stays within the tracking routes' 64 characters.
 */
const SIGNED = /^([1-9][0-9]{0,15})-([con])(0|[1-9][0-9]{0,8})-([A-Za-z0-9_-]{16})$/;
/** The smallest secret accepted: 32 characters (a 128-bit hex string). */
export const MIN_SECRET_LENGTH = 32;

/**
 * The secret as the tracking routes read it: they answer without the rest of the configuration, and a missing or
 * short secret only means signed keys cannot be checked (they 404, and the error is logged); sending refuses to start
 * without it (`getConfig`).
 */
export function trackingSecretOf(env: { TRACKING_SECRET?: string }): string | null {
  const secret = env.TRACKING_SECRET?.trim();
  return secret && secret.length >= MIN_SECRET_LENGTH ? secret : null;
}

const keyCache = new Map<string, Promise<CryptoKey>>();

function hmacKey(secret: string): Promise<CryptoKey> {
  let key = keyCache.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    keyCache.set(secret, key);
  }
  return key;
}

/**
 * The first `bytes` bytes of HMAC-SHA256 of `payload` under `secret`. Tracking keys sign `{emailId}-{kind}{position}`;
 * the other values derived under the secret (Message-IDs, unsubscribe secrets) sign payloads of another shape, so no
 * MAC of one kind is ever a valid MAC of another.
 */
export async function hmacBytes(secret: string, payload: string, bytes: number): Promise<Uint8Array> {
  const signature = await crypto.subtle.sign("HMAC", await hmacKey(secret), new TextEncoder().encode(payload));
  return new Uint8Array(signature, 0, bytes);
}

const mac = async (secret: string, payload: string) => base64url(await hmacBytes(secret, payload, 12));

const payloadOf = (k: SignedKey) => `${k.emailId}-${KIND_CODE[k.kind]}${k.position}`;

/** The key of one link of one e-mail. */
export async function signKey(secret: string, k: SignedKey): Promise<string> {
  const payload = payloadOf(k);
  return `${payload}-${await mac(secret, payload)}`;
}

/** True when `key` has the shape of a signed key (it may still be forged: see `verifyKey`). */
export const isSignedKey = (key: string) => SIGNED.test(key);

/** What a signed key names, or null when it is not one or its MAC is wrong (forged or altered). */
export async function verifyKey(secret: string, key: string): Promise<SignedKey | null> {
  const m = SIGNED.exec(key);
  if (!m) return null;
  const k: SignedKey = { emailId: Number(m[1]), kind: CODE_KIND[m[2] as string] as SignedKind, position: Number(m[3]) };
  if (!Number.isSafeInteger(k.emailId)) return null;
  const expected = await mac(secret, payloadOf(k));
  return timingSafeEqual(expected, m[4] as string) ? k : null;
}

/** Compares two strings in time that does not depend on where they differ. */
export function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
