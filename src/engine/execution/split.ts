/**
 * Random split: the children of an activity with `on = "split"` are weighted branches, and each scenario record takes
 * exactly one of them. The choice is a hash of the scenario record and the split's parent activity, so it is the same
 * every time it is computed (a retried claim, a replay) and independent from one split to the next.
 */

/** A well-mixed 32-bit hash of two ids (FNV-1a over their text, then murmur3's finaliser). */
export function splitHash(scenarioRecordId: number, activityId: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${scenarioRecordId}:${activityId}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The branch (one of `branches`, in id order) the scenario record takes at the split under `parentActivityId`. */
export function pickBranch<T extends { id: number; weight: number | null }>(
  branches: T[],
  scenarioRecordId: number,
  parentActivityId: number,
): T | null {
  const ordered = [...branches].sort((a, b) => a.id - b.id);
  const total = ordered.reduce((n, b) => n + (b.weight ?? 0), 0);
  if (total <= 0) return null;
  let point = splitHash(scenarioRecordId, parentActivityId) % total;
  for (const b of ordered) {
    point -= b.weight ?? 0;
    if (point < 0) return b;
  }
  return null;
}
