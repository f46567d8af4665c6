import { type Db, getDb } from "../db/client";
import type { Bindings } from "../env";
import { wakeShards } from "../scheduler/client";

export interface WakeTime {
  shard: number;
  at: number;
}

/** What every engine verb works with: the bindings, the database, the scheduler, a way to finish work later. */
export interface Engine {
  env: Bindings;
  db: Db;
  d1: D1Database;
  /** Asks the scheduler to wake each shard at the earliest of the given times. Never throws. */
  wake: (times: WakeTime[]) => Promise<void>;
  /** Runs a promise after the caller has its answer (`ctx.waitUntil`); errors are logged, never thrown. */
  defer: (work: Promise<unknown>) => void;
}

export function createEngine(
  env: Bindings,
  options: { waitUntil?: (p: Promise<unknown>) => void; wake?: Engine["wake"] } = {},
): Engine {
  const defer = (work: Promise<unknown>) => {
    const guarded = work.catch((err) => console.error("deferred work failed", err));
    options.waitUntil?.(guarded);
  };
  return { env, db: getDb(env.DB), d1: env.DB, defer, wake: options.wake ?? ((times) => wakeShards(env, times)) };
}
