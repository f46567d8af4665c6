import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof createDb>;

const cache = new WeakMap<D1Database, Db>();

/** The drizzle client over the D1 binding (one per binding, reused across requests of an isolate). */
export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

export function getDb(d1: D1Database): Db {
  let db = cache.get(d1);
  if (!db) {
    db = createDb(d1);
    cache.set(d1, db);
  }
  return db;
}
