/**
 * One page of a keyset-paginated list: the query asked for `limit + 1` rows, so an extra row means there is more, and
 * the next page starts after the last row kept (its `key`).
 */
export function takePage<T, K>(rows: T[], limit: number, key: (row: T) => K): { items: T[]; nextCursor: K | null } {
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  const last = items[items.length - 1];
  return { items, nextCursor: more && last !== undefined ? key(last) : null };
}
