import type { Bindings } from "../env";
import { SHARD_COUNT } from "./shards";

function stub(env: Bindings, shard: number) {
  return env.SCHEDULER.get(env.SCHEDULER.idFromName(`shard-${shard}`));
}

/** Asks one shard's scheduler to wake at `at` (epoch ms). Idempotent; a failure is logged and left to the sweep. */
export async function wakeShard(env: Bindings, shard: number, at: number): Promise<void> {
  try {
    const result = await stub(env, shard).wake({ shard, at });
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

export function schedulerStub(env: Bindings, shard: number) {
  return stub(env, shard);
}
