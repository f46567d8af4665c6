/** Public ids are strings; internally they are SQLite integer keys. */
export const idString = (id: number | null | undefined): string | null => (id == null ? null : String(id));

/** Parses a public id; returns null when it is not one of ours (the caller answers 404). */
export function parseId(text: string | null | undefined): number | null {
  if (!text || !/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

export const iso = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());

/** Hex string of `bytes` random bytes from the platform's CSPRNG. */
export function randomHex(bytes: number): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** URL-safe random key of `bytes` random bytes (base64url, no padding). */
export const randomKey = (bytes = 12): string => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** Bytes as base64url without padding (RFC 4648 §5). */
export function base64url(bytes: ArrayBuffer | Uint8Array): string {
  let bin = "";
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The public unsubscribe token of a scenario record: its id and its 128-bit secret, `${id}-${secret}`. The id makes
 * the lookup a primary-key read, so no index over random secrets has to grow (and slow enrollment) with every record;
 * the secret (derived under TRACKING_SECRET, or stored for older records: src/signing/tokens.ts) is what makes the URL
 * unguessable.
 */
export const unsubscribeToken = (scenarioRecordId: number, secret: string): string => `${scenarioRecordId}-${secret}`;

/** Splits an unsubscribe token; null when it cannot be one. */
export function parseUnsubscribeToken(token: string): { id: number; secret: string } | null {
  const m = /^([1-9][0-9]{0,15})-([0-9a-f]{32})$/.exec(token);
  if (!m) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) ? { id, secret: m[2] as string } : null;
}
