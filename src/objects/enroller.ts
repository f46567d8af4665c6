import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { DomainError } from "../domain/types";
import { enrollScenario, runningScenarios } from "../engine/enrollment/enroll";
import type { EnrollmentStatus } from "../engine/ports";
import type { Bindings } from "../env";
import { buildServices } from "../services";

const StartInput = z.object({
  scenarioId: z.number().int().positive(),
  /** Where a pass begun elsewhere (a bounded `POST /api/jobs/enroll`) stopped: a new pass continues from there. */
  from: z.number().int().min(0).optional(),
});

/** How long one alarm enrolls before it saves its place and re-arms (an alarm may run for minutes; keep steps short). */
const STEP_BUDGET_MS = 20_000;
/** After a failure, try again this much later, from where the pass stopped. */
const RETRY_MS = 30_000;

/**
 * The enrollment of one scenario (one object per scenario), run in the background when the scenario starts running
 * and by the five-minute cron. A pass goes through the model's records in rowid chunks and saves its place after each
 * step, so a pass over millions of records is a series of bounded alarms that survives restarts, never a request that
 * must finish in time. A start while a pass is under way asks for another pass after it (records written meanwhile).
 */
export class Enroller extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec("CREATE TABLE IF NOT EXISTS pass (key TEXT PRIMARY KEY, value INTEGER)");
  }

  /** RPC: run an enrollment pass of the scenario soon (from `from`, else from the start). Idempotent. */
  async start(input: unknown): Promise<{ ok: true } | { ok: false; error: string }> {
    const parsed = StartInput.safeParse(input);
    if (!parsed.success) return { ok: false, error: `invalid start: ${parsed.error.issues[0]?.message}` };
    this.set("scenario", parsed.data.scenarioId);
    // A pass that ends while this start is under way must not swallow it (see `alarm`).
    this.set("generation", (this.get("generation") ?? 0) + 1);
    if (this.get("cursor") === null) this.set("cursor", parsed.data.from ?? 0);
    else this.set("again", 1);
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now());
    return { ok: true };
  }

  /** RPC: where the pass stands. Reads only this object's storage, never D1. */
  async status(): Promise<EnrollmentStatus> {
    return { scenarioId: this.get("scenario"), cursor: this.get("cursor"), again: this.get("again") === 1 };
  }

  override async alarm(): Promise<void> {
    const scenarioId = this.get("scenario");
    const cursor = this.get("cursor");
    if (scenarioId === null || cursor === null) return;
    const engine = buildServices(this.env, { waitUntil: (p) => this.ctx.waitUntil(p) });
    const generation = this.get("generation");
    try {
      const [scenario] = await runningScenarios(engine, scenarioId);
      if (!scenario) {
        if (this.get("generation") !== generation) {
          // Started again while this step read a stopped scenario: a new pass, from the start.
          this.set("cursor", 0);
          this.set("again", null);
          await this.ctx.storage.setAlarm(Date.now());
          return;
        }
        // Stopped, back in draft or deleted: the pass ends; running again starts a new one.
        this.set("cursor", null);
        this.set("again", null);
        return;
      }
      const step = await enrollScenario(engine, scenario, { from: cursor, deadline: Date.now() + STEP_BUDGET_MS });
      if (step.next !== null) {
        this.set("cursor", step.next);
      } else if (this.get("again") === 1) {
        this.set("cursor", 0);
        this.set("again", null);
      } else {
        this.set("cursor", null);
        return;
      }
      await this.ctx.storage.setAlarm(Date.now());
    } catch (err) {
      if (err instanceof DomainError) {
        // A domain that does not compile fails the same way every time: the pass ends; the next start tries again.
        console.error(`enrollment of scenario ${scenarioId} skipped: ${err.message}`);
        this.set("cursor", null);
        this.set("again", null);
        return;
      }
      console.error(`enrollment of scenario ${scenarioId} failed, retrying from rowid ${cursor}`, err);
      await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
    }
  }

  private get(key: string): number | null {
    const row = this.sql.exec<{ value: number | null }>("SELECT value FROM pass WHERE key = ?", key).toArray()[0];
    return row?.value ?? null;
  }

  private set(key: string, value: number | null) {
    this.sql.exec("INSERT OR REPLACE INTO pass (key, value) VALUES (?, ?)", key, value);
  }
}
