import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { DURATION_LIMITS } from "../domain/duration";
import { processUntilIdle } from "../engine/execution/process";
import { recoverOrphanClaims } from "../engine/execution/recover";
import type { Engine, WakeTime } from "../engine/ports";
import { nextDueAt } from "../engine/record-activities/due";
import type { Bindings } from "../env";
import { wakeShards } from "../scheduler/client";
import { buildServices } from "../services";
import { ShardJournal } from "./journal";

/** A shard that starts executing wakes again by then if it dies mid-way, so its claims are recovered within it. */
export const RECOVERY_WAKE_MS = 10_000;

const WakeInput = z.object({ shard: z.number().int().min(0).max(1023), at: z.number().finite() });

/**
 * One shard of the scheduler. D1 stays the single source of truth; this object only knows when to wake. It keeps
 * wake-up times in its own SQLite table, holds one alarm at the earliest, and when the alarm fires it executes what
 * is due in its shard, then re-arms from its table and from D1's next due time, so a wake-up it never heard of is
 * found anyway. Overdue times (after a restart or a lost alarm) simply run at once. An alarm executes with the
 * same per-call limits as `POST /api/jobs/process` (`processUntilIdle`: 15 s, 600 record activities), then re-arms.
 */
export class Scheduler extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  private readonly journal: ShardJournal;

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.journal = new ShardJournal(this.sql);
    this.sql.exec("CREATE TABLE IF NOT EXISTS wakeups (at INTEGER PRIMARY KEY)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
  }

  /** RPC: wake at `at` (epoch ms) for `shard`. Idempotent. A malformed payload is refused, not thrown. */
  async wake(input: unknown): Promise<{ ok: true } | { ok: false; error: string }> {
    const parsed = WakeInput.safeParse(input);
    if (!parsed.success) return { ok: false, error: `invalid wake-up: ${parsed.error.issues[0]?.message}` };
    const { shard, at } = parsed.data;
    this.sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES ('shard', ?)", shard);
    await this.remember(at);
    return { ok: true };
  }

  /** RPC: the pending wake-up times (for inspection and tests). */
  async pending(): Promise<number[]> {
    return this.sql
      .exec<{ at: number }>("SELECT at FROM wakeups ORDER BY at")
      .toArray()
      .map((r) => r.at);
  }

  override async alarm(): Promise<void> {
    const shard = this.shard();
    if (shard === null) return;
    const started = Date.now();
    this.sql.exec("DELETE FROM wakeups WHERE at <= ?", started);
    // Should this instance die mid-way, its successor wakes by then and recovers what it held (the journal).
    const safety = started + RECOVERY_WAKE_MS;
    await this.remember(safety);
    const engine = buildServices(this.env, {
      waitUntil: (p) => this.ctx.waitUntil(p),
      wake: (times) => this.wakeFromEngine(shard, times),
      journal: this.journal,
    });
    let more: boolean;
    try {
      await this.recover(engine, shard);
      ({ more } = await processUntilIdle(engine, { shard }));
    } catch (err) {
      console.error(`scheduler shard ${shard}: execution failed, retrying shortly`, err);
      this.sql.exec("DELETE FROM wakeups WHERE at = ?", safety);
      this.sql.exec("INSERT OR IGNORE INTO wakeups (at) VALUES (?)", Date.now() + 5_000);
      await this.rearm();
      return;
    }
    this.sql.exec("DELETE FROM wakeups WHERE at = ?", safety);
    if (more) {
      this.sql.exec("INSERT OR IGNORE INTO wakeups (at) VALUES (?)", Date.now());
    } else {
      const next = await nextDueAt(this.env.DB, shard, Date.now());
      if (next !== null) this.sql.exec("INSERT OR IGNORE INTO wakeups (at) VALUES (?)", boundedWakeup(next));
    }
    await this.rearm();
  }

  /** The claims an earlier instance of this shard took and never settled: recovered now, then forgotten. */
  private async recover(engine: Engine, shard: number) {
    const orphans = this.journal.orphans();
    if (orphans.length === 0) return;
    const r = await recoverOrphanClaims(engine, orphans, Date.now());
    for (const o of orphans) this.journal.settled(o.key);
    console.log(
      `scheduler shard ${shard}: recovered ${r.claims} claims of a stopped instance ` +
        `(${r.answered} answers kept, ${r.unknown} sends in flight to try again)`,
    );
  }

  private shard(): number | null {
    const row = this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'shard'").toArray()[0];
    return row ? row.value : null;
  }

  private async remember(at: number) {
    this.sql.exec("INSERT OR IGNORE INTO wakeups (at) VALUES (?)", boundedWakeup(at));
    await this.arm();
  }

  /** At the end of an alarm: the one alarm at the earliest remembered time exactly (the safety wake-up is gone). */
  private async rearm() {
    const earliest = this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM wakeups").one().at;
    if (earliest === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(earliest);
  }

  /** Holds one alarm, at the earliest remembered time. */
  private async arm() {
    const earliest = this.sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM wakeups").one().at;
    if (earliest === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || earliest < current) await this.ctx.storage.setAlarm(earliest);
  }

  /** Wake-ups the engine asks for while this shard runs: its own are remembered here, others go to their shard. */
  private async wakeFromEngine(shard: number, times: WakeTime[]) {
    const others: WakeTime[] = [];
    for (const t of times) {
      if (t.shard === shard) this.sql.exec("INSERT OR IGNORE INTO wakeups (at) VALUES (?)", boundedWakeup(t.at));
      else others.push(t);
    }
    if (others.length > 0) await wakeShards(this.env, others);
  }
}

/**
 * A wake-up time an alarm can hold: due times are bounded when saved (at most P5Y ahead), and anything further, past
 * or not finite is brought back within [now, now + P5Y + a day] so that one odd time never makes setAlarm throw.
 */
export function boundedWakeup(at: number, now = Date.now()): number {
  const latest = now + DURATION_LIMITS.maxDelayMs + 86_400_000;
  if (!Number.isFinite(at)) return now;
  return Math.floor(Math.min(Math.max(at, 1), latest));
}
