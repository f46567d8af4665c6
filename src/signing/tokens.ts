import { parseUnsubscribeToken } from "../ids";
import { hmacBytes, timingSafeEqual, trackingSecretOf } from "./keys";

/**
 * The secret half of an unsubscribe token (`{scenarioRecordId}-{secret}`, see ids.ts). Scenario records enrolled with
 * a TRACKING_SECRET store an empty `token`: their secret is derived, HMAC-SHA256 of `unsubscribe:{id}` under
 * TRACKING_SECRET cut to 128 bits (32 hex characters), so it stays as unguessable as the 128 random bits older records
 * keep in their row, and no row carries it. Changing TRACKING_SECRET changes these tokens (as it does tracking keys).
 */

/** The derived secret of a scenario record enrolled without a stored token. */
export async function derivedUnsubscribeSecret(secret: string, scenarioRecordId: number): Promise<string> {
  const mac = await hmacBytes(secret, `unsubscribe:${scenarioRecordId}`, 16);
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The secret half as the scenario record stores it: a stored token (records enrolled before), or `''` when the token
 * carries the record's derived secret. Readers bind this to `sr.token = ?`: an empty stored token is only ever matched
 * after the MAC was checked here, and an old record's stored token is never matched by a derived one.
 */
export async function storedTokenOf(
  trackingSecret: string | null,
  token: { id: number; secret: string },
): Promise<string> {
  if (trackingSecret === null) return token.secret;
  const derived = await derivedUnsubscribeSecret(trackingSecret, token.id);
  return timingSafeEqual(derived, token.secret) ? "" : token.secret;
}

/** The secret half of a scenario record's token: its stored token, or its derived secret when none is stored. */
export async function unsubscribeSecretOf(
  trackingSecret: string | null,
  scenarioRecord: { id: number; token: string },
): Promise<string> {
  if (scenarioRecord.token !== "") return scenarioRecord.token;
  if (trackingSecret === null) {
    throw new Error("configuration: TRACKING_SECRET is required for the unsubscribe tokens of these scenario records");
  }
  return derivedUnsubscribeSecret(trackingSecret, scenarioRecord.id);
}

/**
 * A token from a URL as the routes look it up: the scenario record's id and the secret half as its row stores it
 * (`storedTokenOf`), for `WHERE sr.id = ? AND sr.token = ?`; null when the text cannot be a token.
 */
export async function tokenToMatch(
  env: { TRACKING_SECRET?: string },
  text: string | undefined,
): Promise<{ id: number; secret: string } | null> {
  const parsed = parseUnsubscribeToken(text ?? "");
  if (!parsed) return null;
  return { id: parsed.id, secret: await storedTokenOf(trackingSecretOf(env), parsed) };
}
