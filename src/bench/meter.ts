/** What D1 reported for the statements run through a metered binding: its own `meta.rows_read` / `rows_written`. */
export interface D1Totals {
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  /** The database size after the last statement (`meta.size_after`), when D1 reported it. */
  sizeAfter: number | null;
  /** Rows written by statement, keyed by the statement's first words (its verb and table). */
  writtenBy: Record<string, number>;
  /** Rows read by statement, keyed the same way. */
  readBy: Record<string, number>;
}

type Meta = { rows_read?: number; rows_written?: number; size_after?: number };

/**
 * A D1 binding that adds up the `meta` of every statement run through it (`first()` runs as `all()` so its meta is
 * seen). For benchmarks and tests that check what a piece of work costs in D1's own units.
 */
export function meteredD1(d1: D1Database): { db: D1Database; totals: D1Totals } {
  const totals: D1Totals = { statements: 0, rowsRead: 0, rowsWritten: 0, sizeAfter: null, writtenBy: {}, readBy: {} };
  const real = new WeakMap<object, D1PreparedStatement>();
  const sqlOf = new WeakMap<object, string>();
  const add = (meta: Meta | undefined, sql = "") => {
    totals.statements++;
    totals.rowsRead += meta?.rows_read ?? 0;
    totals.rowsWritten += meta?.rows_written ?? 0;
    if (meta?.rows_written) {
      const key = statementKey(sql);
      totals.writtenBy[key] = (totals.writtenBy[key] ?? 0) + meta.rows_written;
    }
    if (meta?.rows_read) {
      const key = statementKey(sql);
      totals.readBy[key] = (totals.readBy[key] ?? 0) + meta.rows_read;
    }
    if (typeof meta?.size_after === "number") totals.sizeAfter = meta.size_after;
  };
  const wrap = (stmt: D1PreparedStatement, sql: string): D1PreparedStatement => {
    const proxy = {
      bind: (...values: unknown[]) => wrap(stmt.bind(...values), sql),
      async all() {
        const r = await stmt.all();
        add(r.meta as Meta, sql);
        return r;
      },
      async run() {
        const r = await stmt.run();
        add(r.meta as Meta, sql);
        return r;
      },
      async first(column?: string) {
        const r = await stmt.all<Record<string, unknown>>();
        add(r.meta as Meta, sql);
        const row = r.results[0] ?? null;
        return column === undefined ? row : ((row?.[column] as unknown) ?? null);
      },
      raw: (options?: { columnNames?: boolean }) => stmt.raw(options as { columnNames: true }),
    } as unknown as D1PreparedStatement;
    real.set(proxy, stmt);
    sqlOf.set(proxy, sql);
    return proxy;
  };
  const db = {
    prepare: (sql: string) => wrap(d1.prepare(sql), sql),
    async batch(statements: D1PreparedStatement[]) {
      const results = await d1.batch(statements.map((s) => real.get(s) ?? s));
      results.forEach((r, i) => {
        add(r.meta as Meta, sqlOf.get(statements[i] as object));
      });
      return results;
    },
    exec: (sql: string) => d1.exec(sql),
    withSession: (...args: unknown[]) =>
      (d1 as unknown as { withSession: (...a: unknown[]) => unknown }).withSession(...args),
    dump: () => (d1 as unknown as { dump: () => Promise<ArrayBuffer> }).dump(),
  } as unknown as D1Database;
  return { db, totals };
}

/** `UPDATE record_activities`, `INSERT INTO emails`…: a statement's verb and the table it writes. */
function statementKey(sql: string): string {
  const m = /\b(INSERT(?:\s+OR\s+\w+)?\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?/i.exec(sql);
  return m ? `${(m[1] as string).replace(/\s+/g, " ").toUpperCase()} ${m[2]}` : sql.trim().slice(0, 40);
}
