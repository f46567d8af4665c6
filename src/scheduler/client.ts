import { SHARD_COUNT } from "../db/shards";
import type { Bindings } from "../env";

/**
 * The client side of the two Durable Objects (classes in `src/objects/`): the scheduler shards that wake for due
 * work, and the per-scenario Enrollers. The engine never calls these directly: `src/services.ts` hands them to it as
 * its `wake` and `enrollment` ports.
 */

export function schedulerStub(env: Bindings, shard: number) {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(`shard-${shard}`));
}

/** Asks one shard's scheduler to wake at `at` (epoch ms). Idempotent; a failure is logged and left to the sweep. */
export async function wakeShard(env: Bindings, shard: number, at: number): Promise<void> {
  try {
    const result = await schedulerStub(env, shard).wake({ shard, at });
    if (!result.ok) console.error(`scheduler shard ${shard}: ${result.error}`);
  } catch (err) {
    console.error(`scheduler shard ${shard}: wake failed, the sweep will catch up`, err);
  }
}

export async function wakeAllShards(env: Bindings, at: number): Promise<void> {
  await Promise.all(Array.from({ length: SHARD_COUNT }, (_, shard) => wakeShard(env, shard, at)));
}

/** Wakes each shard at the earliest of the given times for it. */
export async function wakeShards(env: Bindings, times: Iterable<{ shard: number; at: number }>): Promise<void> {
  const earliest = new Map<number, number>();
  for (const { shard, at } of times) {
    const known = earliest.get(shard);
    if (known === undefined || at < known) earliest.set(shard, at);
  }
  await Promise.all([...earliest].map(([shard, at]) => wakeShard(env, shard, at)));
}

export function enrollerStub(env: Bindings, scenarioId: number) {
  return env.ENROLLER.get(env.ENROLLER.idFromName(`scenario-${scenarioId}`));
}

/** Asks the scenario's Enroller for a pass. A failure is logged: the five-minute cron asks again. */
export async function startEnrollment(env: Bindings, scenarioId: number, from?: number): Promise<void> {
  try {
    const result = await enrollerStub(env, scenarioId).start(
      from === undefined ? { scenarioId } : { scenarioId, from },
    );
    if (!result.ok) console.error(`enrollment of scenario ${scenarioId}: ${result.error}`);
  } catch (err) {
    console.error(`enrollment of scenario ${scenarioId} could not start; the cron will`, err);
  }
}

/** Where the scenario's enrollment pass stands, read from its Enroller alone. */
export async function enrollmentStatus(env: Bindings, scenarioId: number) {
  return enrollerStub(env, scenarioId).status();
}
