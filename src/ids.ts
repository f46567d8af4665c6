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
export function randomKey(bytes = 12): string {
  const buf = crypto.getRandomValues(new Uint8Array(bytes));
  let bin = "";
  for (const b of buf) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
