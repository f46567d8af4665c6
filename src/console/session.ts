import { secretsEqual } from "../http/auth";
import { base64url } from "../ids";

/**
 * Console sessions without a session store: the cookie carries its expiry and a random nonce, signed with HMAC-SHA256
 * under a key derived from ADMIN_TOKEN. Nobody without the token can make one, and rotating the token ends every
 * session at once. The CSRF token of a session is another HMAC of the same nonce, so it is bound to that session.
 * Signing out lists the nonce in D1 (`console_sign_outs`) until the session would have expired: the cookie is refused
 * from then on, even when replayed from elsewhere.
 *
 *   cookie value: <expires, epoch seconds>.<nonce, 128 random bits, base64url>.<HMAC("session|expires.nonce")>
 *   CSRF token:   HMAC("csrf|nonce")
 */

export const SESSION_COOKIE = "console_session";
/** A session lasts a working day; logging in again starts a new one. */
export const SESSION_TTL_SECONDS = 8 * 60 * 60;

export interface Session {
  /** Epoch seconds after which the cookie is refused. */
  expires: number;
  /** The value to set in the cookie. */
  cookie: string;
  /** The token every form of this session carries. */
  csrf: string;
  /** The session's random nonce: what signing out revokes. */
  nonce: string;
}

const encoder = new TextEncoder();
const COOKIE_VALUE = /^([0-9]{1,12})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;

let cachedKey: { token: string; key: CryptoKey } | null = null;

/**
 * The HMAC key of the console, derived from the admin token (HKDF), kept once per isolate and token. The key itself is
 * kept, never the promise of it: a request must not wait on a promise another request started.
 */
async function keyFor(adminToken: string): Promise<CryptoKey> {
  if (cachedKey?.token === adminToken) return cachedKey.key;
  const base = await crypto.subtle.importKey("raw", encoder.encode(adminToken), "HKDF", false, ["deriveKey"]);
  const key = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode("console session v1") },
    base,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign", "verify"],
  );
  cachedKey = { token: adminToken, key };
  return key;
}

function fromBase64url(text: string): Uint8Array {
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

async function mac(adminToken: string, purpose: "session" | "csrf", message: string): Promise<string> {
  const signature = await crypto.subtle.sign("HMAC", await keyFor(adminToken), encoder.encode(`${purpose}|${message}`));
  return base64url(signature);
}

async function sessionOf(adminToken: string, expires: number, nonce: string, signature: string): Promise<Session> {
  return { expires, cookie: `${expires}.${nonce}.${signature}`, csrf: await mac(adminToken, "csrf", nonce), nonce };
}

/** A new session for someone who just proved they hold the admin token. */
export async function createSession(adminToken: string, now = Date.now()): Promise<Session> {
  const expires = Math.floor(now / 1000) + SESSION_TTL_SECONDS;
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(16)));
  return sessionOf(adminToken, expires, nonce, await mac(adminToken, "session", `${expires}.${nonce}`));
}

/** The session a cookie value stands for, or null when it is malformed, forged, signed by another token or expired. */
export async function readSession(
  adminToken: string,
  value: string | undefined,
  now = Date.now(),
): Promise<Session | null> {
  const m = value ? COOKIE_VALUE.exec(value) : null;
  if (!m) return null;
  const [, expiresText, nonce, signature] = m as unknown as [string, string, string, string];
  const expires = Number(expiresText);
  const seconds = Math.floor(now / 1000);
  if (expires <= seconds || expires > seconds + SESSION_TTL_SECONDS) return null;
  const valid = await crypto.subtle.verify(
    "HMAC",
    await keyFor(adminToken),
    fromBase64url(signature),
    encoder.encode(`session|${expires}.${nonce}`),
  );
  return valid ? sessionOf(adminToken, expires, nonce, signature) : null;
}

/** Whether a submitted form carries this session's CSRF token (constant time). */
export function csrfMatches(session: Session, submitted: unknown): Promise<boolean> {
  return typeof submitted === "string" && submitted.length > 0
    ? secretsEqual(submitted, session.csrf)
    : Promise.resolve(false);
}

/** Ends a session for good: its nonce is listed until it would have expired; expired rows go at the same time. */
export async function revokeSession(db: D1Database, session: Session, now = Date.now()): Promise<void> {
  await db.batch([
    db
      .prepare("INSERT OR IGNORE INTO console_sign_outs (nonce, expires_at) VALUES (?1, ?2)")
      .bind(session.nonce, session.expires),
    db.prepare("DELETE FROM console_sign_outs WHERE expires_at <= ?1").bind(Math.floor(now / 1000)),
  ]);
}

/** Whether a session was signed out (read on the primary: a replica may not have the sign-out yet). */
export async function isRevoked(db: D1Database, session: Session): Promise<boolean> {
  const row = await db.prepare("SELECT 1 AS x FROM console_sign_outs WHERE nonce = ?1").bind(session.nonce).first();
  return row !== null;
}
