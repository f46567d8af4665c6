import { randomHex } from "../ids";

/**
 * E-mail bodies in R2: one newline-delimited JSON object a delivery batch, each body read back with a ranged GET.
 */

export interface BodyObject {
  html: string;
  text: string;
  raw: string;
  /** The headers as archived (decoded). E-mails archived before they moved here keep them in their D1 row. */
  headers?: Record<string, string>;
}

/** The R2 object of one delivery batch's bodies. */
export const batchKey = (now: number, nonce: string) =>
  `emails/batches/${new Date(now).toISOString().slice(0, 10)}/${now}-${nonce}.ndjson`;

/** A delivery batch's nonce: 48 random bits, 12 hex. Its rows store it as `body_key`. */
export const batchNonce = () => randomHex(6);
const NONCE = /^[0-9a-f]{12}$/;

/**
 * The R2 key of an e-mail's body object. Rows store only their batch's nonce: the key is `batchKey(created_at, nonce)`,
 * the batch's `now` being each row's `created_at` (`archiveAttempts`). Rows written before store the whole key.
 */
export const bodyObjectKey = (row: { bodyKey: string; createdAt: number }): string =>
  NONCE.test(row.bodyKey) ? batchKey(row.createdAt, row.bodyKey) : row.bodyKey;

/**
 * The bodies of a batch as one newline-delimited JSON object, and where each body sits in it: one R2 write for the
 * whole batch instead of one per e-mail (R2 bills every write), read back with a ranged GET.
 */
export function packBodies(bodies: BodyObject[]): { bytes: Uint8Array; ranges: { offset: number; length: number }[] } {
  const encoder = new TextEncoder();
  const parts = bodies.map((b) => encoder.encode(`${JSON.stringify(b)}\n`));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const ranges: { offset: number; length: number }[] = [];
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    ranges.push({ offset, length: part.length - 1 });
    offset += part.length;
  }
  return { bytes, ranges };
}

/** Writes a batch's packed bodies: one R2 object. */
export async function putBodies(bucket: R2Bucket, key: string, bytes: Uint8Array): Promise<void> {
  await bucket.put(key, bytes, { httpMetadata: { contentType: "application/x-ndjson; charset=utf-8" } });
}

/** One e-mail's body: a ranged read of its batch's object (or the whole object for a body stored alone). */
export async function getBody(
  bucket: R2Bucket,
  row: { bodyKey: string; bodyOffset: number | null; bodyLength: number | null; createdAt: number },
): Promise<BodyObject | null> {
  if (!row.bodyKey) return null;
  const ranged = row.bodyOffset !== null && row.bodyLength !== null;
  const object = await bucket.get(
    bodyObjectKey(row),
    ranged ? { range: { offset: row.bodyOffset as number, length: row.bodyLength as number } } : undefined,
  );
  return object ? object.json<BodyObject>() : null;
}
