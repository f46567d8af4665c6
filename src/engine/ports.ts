import type { ActionRegistry } from "../actions/registry";
import type { Db } from "../db/client";
import type { Mailer } from "../email/job";
import type { Bindings } from "../env";

export interface WakeTime {
  shard: number;
  at: number;
}

/** Where a scenario's background enrollment pass stands (see the Enroller in `src/objects/`). */
export interface EnrollmentStatus {
  /** The scenario the pass enrolls for; null when none ever ran. */
  scenarioId: number | null;
  /** The rowid the pass continues from; null when no pass is under way. */
  cursor: number | null;
  /** Another pass is asked for after this one. */
  again: boolean;
}

/** The engine's way to the background enrollment: ask for a pass, read where it stands. */
export interface EnrollmentPort {
  /** Asks for a pass of the scenario soon. Idempotent; never throws (a failure is logged, the cron asks again). */
  start: (scenarioId: number) => Promise<void>;
  status: (scenarioId: number) => Promise<EnrollmentStatus>;
}

/**
 * What every engine verb works with: the bindings, the database, and its ports to the outside. Built in one place
 * only, `buildServices` in `src/services.ts`; tests replace ports there.
 */
export interface Engine {
  env: Bindings;
  db: Db;
  d1: D1Database;
  /** Asks the scheduler to wake each shard at the earliest of the given times. Never throws. */
  wake: (times: WakeTime[]) => Promise<void>;
  /** Runs a promise after the caller has its answer (`ctx.waitUntil`); errors are logged, never thrown. */
  defer: (work: Promise<unknown>) => void;
  /** Starts background enrollment passes. */
  enrollment: EnrollmentPort;
  /** The actions an activity may name, by name. */
  actions: ActionRegistry;
  /** Where `send_email` hands its e-mails. */
  mailer: Mailer;
}
