import type { Engine } from "./context";
import { enroll } from "./enroll";

/**
 * What follows a write of some records (through the API, or by an `update_record` activity): they enroll at once into
 * every running scenario whose domain they now match. Safe to repeat.
 */
export async function recordsWritten(e: Engine, model: string, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await enroll(e, { only: { model, ids } });
}
