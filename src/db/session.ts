/**
 * D1 read replication through the Sessions API (docs/scaling.md, "Read replication"). A session sends its queries to
 * the primary or to a replica at least as new as the session's bookmark, so what it wrote it reads back; a later
 * request continues from the bookmark the last one gave back. Without replication enabled on the database every query
 * goes to the primary and a session behaves as the binding does.
 */

/** The shape of a D1 bookmark (`00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683`). */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

/** Whether a value sent back by a client has the shape of a D1 bookmark. */
export const isBookmark = (value: string | null | undefined): value is string =>
  typeof value === "string" && BOOKMARK.test(value);

const CONSTRAINTS: readonly string[] = ["first-unconstrained", "first-primary"] satisfies D1SessionConstraint[];

/**
 * A session continuing from `bookmark`: from any replica when there is none ("first-unconstrained"), from one of D1's
 * two constraints when named, from the primary when the value is anything else ("first-primary": the client lost its
 * place, and the primary is never behind it). D1 throws on a bookmark it refuses; that too starts again from the
 * primary instead of failing the request.
 */
export function sessionFrom(d1: D1Database, bookmark: string | null | undefined): D1DatabaseSession {
  if (bookmark === null || bookmark === undefined || bookmark === "") return d1.withSession("first-unconstrained");
  if (CONSTRAINTS.includes(bookmark)) return d1.withSession(bookmark as D1SessionConstraint);
  if (!isBookmark(bookmark)) return d1.withSession("first-primary");
  try {
    return d1.withSession(bookmark);
  } catch (err) {
    console.warn("D1 refused the bookmark sent back by the client, starting from the primary", err);
    return d1.withSession("first-primary");
  }
}

const refused = (what: string) => () => Promise.reject(new Error(`D1 ${what} is not available inside a D1 session`));

/**
 * A session as the `D1Database` the engine's functions and drizzle take. They only prepare and batch, which a session
 * has; `exec`, `dump` and a session inside the session are refused with an error (D1's session has none of them, and
 * a nested session would lose this one's consistency).
 */
export function sessionDatabase(session: D1DatabaseSession): D1Database {
  return {
    prepare: (query: string) => session.prepare(query),
    batch: <T = unknown>(statements: D1PreparedStatement[]) => session.batch<T>(statements),
    exec: refused("exec"),
    dump: refused("dump"),
    withSession: () => {
      throw new Error("D1 withSession is not available inside a D1 session");
    },
  } satisfies D1Database;
}
