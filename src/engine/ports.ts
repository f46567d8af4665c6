import type { z } from "zod";
import type { Db } from "../db/client";
import type { EmailTranslations } from "../db/schema";
import type { AttemptOutcome } from "../email/job";
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
  /**
   * Asks for a pass of the scenario soon, from rowid `from` when a pass begun elsewhere stopped there (else from the
   * start). Idempotent; never throws (a failure is logged, the cron asks again).
   */
  start: (scenarioId: number, from?: number) => Promise<void>;
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
  /**
   * Where the claims this engine takes are remembered until they are settled, in storage that outlives the Worker (the
   * Scheduler object's): a claim its holder never settled is recovered at once by the next instance. None outside the
   * Scheduler: such claims are taken over when they lapse (CLAIM_TIMEOUT_MS).
   */
  journal?: ClaimJournal;
}

/**
 * What an action returns for each job of its batch, in order. The engine turns it into the record activity's state:
 * - `done`: the record activity is done and its children are created.
 * - `retry`: a fault that may pass. The record activity waits again, at `retryAfterMs` at the earliest (with the
 *   engine's backoff), and the attempt counts: after MAX_ATTEMPTS it fails.
 * - `deferred`: not now, but not a fault (a throttle, a send window, a frequency cap). The record activity goes back to
 *   `waiting` at `until` with `reason` shown, and the attempt is not counted.
 * - `failed`: a permanent fault; the record activity fails with `error` as its reason, no children.
 * - `cancelled`: the action decided not to run for this record; `reason` is kept, no children.
 */
export type ActionOutcome =
  | { status: "done"; emailId?: number }
  | { status: "retry"; error: string; retryAfterMs: number | null }
  | { status: "deferred"; reason: string; until: number }
  | { status: "failed"; error: string }
  | { status: "cancelled"; reason: string };

/** One record activity for the action to perform, with everything it may need about the record. */
export interface ActionJob<S = unknown> {
  recordActivityId: number;
  /** 1 for the first try. */
  attempt: number;
  scenario: { id: number; name: string };
  activity: { id: number; name: string; settings: S };
  scenarioRecord: { id: number; token: string };
  record: { model: string; id: string; fields: Record<string, unknown> };
  /** The party behind the record; null when the record names no party or the party is gone. */
  party: { id: string; fields: Record<string, unknown> } | null;
}

/** What an action's batch runs with. */
export interface ActionContext {
  engine: Engine;
  now: number;
  /** The claim that holds the batch's record activities (`claims.key`); absent outside a claim. */
  claimKey?: string;
}

/** The fields of an activity an action reads its settings from. */
export interface ActivitySettingsSource {
  settings: Record<string, unknown> | null;
  emailFrom: string | null;
  emailTitle: string | null;
  emailTemplate: string | null;
  /** `send_email`'s other language versions (see docs/recipients.md). */
  emailTranslations?: EmailTranslations | null;
}

/**
 * An action, by name. The engine declares what it needs of one here; each implementation is one file in
 * `src/actions/`, listed in its `registry.ts`, and handed to the engine by the composition root (src/services.ts). The engine claims due record activities,
 * runs the gates (`src/engine/gates/`), then hands the rest to their action in batches; the state machine, retries and
 * children stay in the engine.
 */
export interface Action<S = unknown> {
  readonly name: string;
  /** Checked when the activity is saved (a 400 naming the field) and parsed again before each batch. */
  readonly settings: z.ZodType<S>;
  /**
   * Where the settings come from: by default the activity's `settings` object, and errors name `settings.<field>`.
   * `send_email` reads the activity's `email_*` fields instead (`settingsPrefix: ""`).
   */
  readonly readSettings?: (activity: ActivitySettingsSource) => unknown;
  readonly settingsPrefix?: string;
  /** Checks of the settings that depend on the configuration (throw `invalid(…)`), when the activity is saved. */
  readonly validate?: (settings: S, env: Bindings) => void;
  /** Performs the batch (concurrently where it can): one outcome per job, in order. */
  execute(jobs: ActionJob<S>[], ctx: ActionContext): Promise<ActionOutcome[]>;
  /** The outcome of every job of a batch whose `execute` threw; by default a retry with the error's message. */
  readonly onError?: (err: unknown) => ActionOutcome;
}

/** The actions an activity may name, by name: a port the composition root fills. */
export interface ActionRegistry {
  get(name: string): Action | undefined;
  names(): string[];
}

/** A claim whose holder died before settling it: the attempts it made and how each went (null: no answer heard). */
export interface OrphanClaim {
  key: string;
  attempts: { id: number; ra: number; outcome: AttemptOutcome | null }[];
}

/** The engine's record of the claims it holds, kept where a crash does not lose it. Calls never throw. */
export interface ClaimJournal {
  /** A claim is about to be taken under `key`. */
  claimed(key: string): void;
  /** It is settled (committed, or it took nothing): forget it and its attempts. */
  settled(key: string): void;
  /** Its settling failed: treat it as an orphan, recovered by the next call like one whose holder died. */
  orphaned(key: string): void;
  /** The claims an earlier instance took and never settled: their holder is gone. */
  orphans(): OrphanClaim[];
}
