/** What a recording D1 saw: each session's start, and each statement prepared on a session or on the binding. */
export interface D1Record {
  /** The argument of each `withSession` call, in order. */
  starts: string[];
  /** SQL prepared on a session. */
  onSession: string[];
  /** SQL prepared on the binding itself (the primary). */
  onBinding: string[];
}

/** A replica's answer: the row the database gave, or what a replica behind the primary would give instead. */
type Replica = (row: unknown, sql: string) => unknown;

/**
 * A D1 binding over the real one that records where each statement went (as src/bench/meter.ts wraps D1), to pin down
 * which reads go through a session and from which start. `replica` changes what a session's `first()` returns, to play
 * a replica that is behind; `refuse` makes a session started from a bookmark fail its queries, as D1 does with a
 * bookmark it refuses. `log` gets every statement prepared, wherever, in order.
 */
export function recordingD1(
  real: D1Database,
  options: { replica?: Replica; refuse?: (start: string) => boolean; log?: string[] } = {},
): { db: D1Database; seen: D1Record } {
  const seen: D1Record = { starts: [], onSession: [], onBinding: [] };
  const statement = (stmt: D1PreparedStatement, sql: string, refused: boolean): D1PreparedStatement => {
    const fail = () => Promise.reject(new Error("D1_ERROR: the bookmark is not valid for this database"));
    return {
      bind: (...values: unknown[]) => statement(stmt.bind(...values), sql, refused),
      first: async (column?: string) => {
        if (refused) return fail();
        const row = await stmt.first(column as string);
        return options.replica ? options.replica(row, sql) : row;
      },
      all: () => (refused ? fail() : stmt.all()),
      run: () => (refused ? fail() : stmt.run()),
      raw: (o?: { columnNames?: boolean }) => (refused ? fail() : stmt.raw(o as { columnNames: true })),
      real: stmt,
    } as unknown as D1PreparedStatement;
  };
  const unwrap = (statements: D1PreparedStatement[]) =>
    statements.map((s) => (s as unknown as { real?: D1PreparedStatement }).real ?? s);
  const db = {
    prepare(sql: string) {
      seen.onBinding.push(sql);
      options.log?.push(sql);
      return real.prepare(sql);
    },
    batch: (statements: D1PreparedStatement[]) => real.batch(unwrap(statements)),
    exec: (sql: string) => real.exec(sql),
    dump: () => real.dump(),
    withSession(start: string) {
      seen.starts.push(start);
      const session = real.withSession(start);
      const refused = options.refuse?.(start) ?? false;
      return {
        prepare(sql: string) {
          seen.onSession.push(sql);
          options.log?.push(sql);
          return statement(session.prepare(sql), sql, refused);
        },
        batch: (statements: D1PreparedStatement[]) =>
          refused
            ? Promise.reject(new Error("D1_ERROR: the bookmark is not valid for this database"))
            : session.batch(unwrap(statements)),
        getBookmark: () => session.getBookmark(),
      };
    },
  } as unknown as D1Database;
  return { db, seen };
}
