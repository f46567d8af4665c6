import { type SQL, type SQLWrapper, sql } from "drizzle-orm";

/** D1 binds at most 100 parameters a query: multi-row inserts are split into chunks under that bound. */
export const D1_MAX_PARAMS = 100;

export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Rows per insert statement so that `columns` bound values a row stay within D1's limit. */
export function rowsPerStatement(columns: number): number {
  return Math.max(1, Math.floor(D1_MAX_PARAMS / columns));
}

/** `column IN (…ids)` through one bound JSON parameter, whatever the number of ids (D1 binds at most 100). */
export function inIds(column: SQLWrapper, ids: readonly (number | string)[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`;
}

/** UTF-8 bytes of a value's JSON. */
export function jsonBytes(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
}

/**
 * Splits items into runs whose JSON array takes at most `maxBytes` bytes and holds at most `maxItems` items, in order.
 * An item larger than `maxBytes` on its own still gets a run of its own (callers bound items first).
 */
export function chunkByBytes<T>(items: readonly T[], maxBytes: number, maxItems = Number.POSITIVE_INFINITY): T[][] {
  const out: T[][] = [];
  let run: T[] = [];
  let size = 2; // "[]"
  for (const item of items) {
    const bytes = jsonBytes(item) + 1; // and its comma
    if (run.length > 0 && (size + bytes > maxBytes || run.length >= maxItems)) {
      out.push(run);
      run = [];
      size = 2;
    }
    run.push(item);
    size += bytes;
  }
  if (run.length > 0) out.push(run);
  return out;
}
