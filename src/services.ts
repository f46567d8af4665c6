import { type ActionRegistry, actionRegistry } from "./actions/registry";
import { getDb } from "./db/client";
import type { Mailer } from "./email/job";
import { createMailer } from "./email/mailer";
import type { Engine, EnrollmentPort } from "./engine/ports";
import type { Bindings } from "./env";
import { enrollmentStatus, startEnrollment, wakeShards } from "./scheduler/client";

export interface ServiceOptions {
  /** The invocation's `waitUntil`: deferred work runs after the answer. Without it, deferred work is dropped. */
  waitUntil?: (p: Promise<unknown>) => void;
  /** Replaces the scheduler wake-ups (the Scheduler object remembers its own shard's; tests record them). */
  wake?: Engine["wake"];
  enrollment?: EnrollmentPort;
  actions?: ActionRegistry;
  mailer?: Mailer;
  /**
   * The database the engine reads and writes: a request's D1 session (`sessionDatabase` in src/db/session.ts), so the
   * console reads its own writes from a replica. The binding, all on the primary, by default.
   */
  d1?: D1Database;
}

/**
 * The composition root: the only place that builds the engine with its ports. The API, the console, the crons, the
 * tracking routes and both Durable Objects take their engine from here.
 */
export function buildServices(env: Bindings, options: ServiceOptions = {}): Engine {
  const defer = (work: Promise<unknown>) => {
    const guarded = work.catch((err) => console.error("deferred work failed", err));
    options.waitUntil?.(guarded);
  };
  const d1 = options.d1 ?? env.DB;
  return {
    env,
    db: getDb(d1),
    d1,
    defer,
    wake: options.wake ?? ((times) => wakeShards(env, times)),
    enrollment: options.enrollment ?? {
      start: (scenarioId) => startEnrollment(env, scenarioId),
      status: (scenarioId) => enrollmentStatus(env, scenarioId),
    },
    actions: options.actions ?? actionRegistry(),
    // The mailer archives what it sends in the same database handle, so a session sees those rows too.
    mailer: options.mailer ?? createMailer(d1 === env.DB ? env : { ...env, DB: d1 }),
  };
}
