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
