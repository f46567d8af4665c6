import { actionRegistry, builtInActions } from "./actions/registry";
import { getDb } from "./db/client";
import type { DeliveryJournal, Mailer } from "./email/job";
import { createMailer } from "./email/mailer";
import type { ActionRegistry, ClaimJournal, Engine, EnrollmentPort } from "./engine/ports";
import type { Bindings } from "./env";
import { enrollmentStatus, startEnrollment, wakeShards } from "./scheduler/client";

export interface ServiceOptions {
  /** The invocation's `waitUntil`: deferred work runs after the answer. Without it, deferred work is dropped. */
  waitUntil?: (p: Promise<unknown>) => void;
  /** Replaces the scheduler wake-ups (the Scheduler object remembers its own shard's; tests record them). */
  wake?: Engine["wake"];
  enrollment?: EnrollmentPort;
  actions?: ActionRegistry;
  /** Where `send_email` hands its e-mails (tests script one); the e-mail module's mailer by default. */
  mailer?: Mailer;
  /**
   * The Scheduler shard's journal: the engine remembers its claims there and the mailer each attempt and answer, so
   * that a killed Worker's claims are recovered at once and what it delivered is never sent again.
   */
  journal?: ClaimJournal & DeliveryJournal;
  /**
   * The database the engine reads and writes: a request's D1 session (`sessionDatabase` in src/db/session.ts), so the
   * console reads its own writes from a replica. The binding, all on the primary, by default.
   */
  d1?: D1Database;
}

/**
 * The composition root: the only place that builds the engine with its ports and hands the actions their own (the
 * mailer goes to `send_email`, built when it first sends: a tracking hit or an API read never builds one). The API,
 * the console, the crons, the tracking routes and both Durable Objects take their engine from here.
 */
export function buildServices(env: Bindings, options: ServiceOptions = {}): Engine {
  const defer = (work: Promise<unknown>) => {
    const guarded = work.catch((err) => console.error("deferred work failed", err));
    options.waitUntil?.(guarded);
  };
  const d1 = options.d1 ?? env.DB;
  const mailer = options.mailer ? () => options.mailer as Mailer : once(() => buildMailer(env, d1, options.journal));
  return {
    env,
    db: getDb(d1),
    d1,
    defer,
    wake: options.wake ?? ((times) => wakeShards(env, times)),
    enrollment: options.enrollment ?? {
      start: (scenarioId, from) => startEnrollment(env, scenarioId, from),
      status: (scenarioId) => enrollmentStatus(env, scenarioId),
    },
    actions: options.actions ?? actionRegistry(builtInActions({ mailer })),
    journal: options.journal,
  };
}

/** The e-mail module's mailer: it archives what it sends in the engine's database handle, so a session sees those rows. */
export function buildMailer(env: Bindings, d1: D1Database, journal?: DeliveryJournal): Mailer {
  return createMailer(d1 === env.DB ? env : { ...env, DB: d1 }, { journal });
}

/** The same engine, with `send_email` handing its e-mails to `mailer` (the other built-in actions as they are). */
export function withMailer(engine: Engine, mailer: Mailer): Engine {
  return { ...engine, actions: actionRegistry(builtInActions({ mailer: () => mailer })) };
}

function once<T>(make: () => T): () => T {
  let made: { value: T } | undefined;
  return () => {
    made ??= { value: make() };
    return made.value;
  };
}
