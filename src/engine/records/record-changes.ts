import { enroll } from "../enrollment/enroll";
import type { Engine } from "../ports";
import { checkGoalsOf } from "../reactions/goals";
import { recordsChanged } from "../reactions/wait-until";

/**
 * What follows a write of some records (through the API, or by an `update_record` activity): they enroll at once into
 * every running scenario whose domain they now match, and those that reach the goal of a scenario they are in leave
 * it. Safe to repeat.
 */
export async function recordsWritten(e: Engine, model: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  // Goals first: a record that converts leaves the scenarios it is in before anything else reads it.
  const now = Date.now();
  await checkGoalsOf(e, model, ids, now);
  // Wait-until children of these records whose condition now holds fire.
  await recordsChanged(e, model, ids, now);
  await enroll(e, { only: { model, ids } });
}
