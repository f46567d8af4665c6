import type { FrequencyCap } from "../../db/schema";
import type { Engine } from "../ports";
import { checkFrequencyCap } from "./rules";

export interface Settings {
  /** The cap across every scenario; null: no global cap. */
  frequencyCap: FrequencyCap | null;
}

export async function getSettings(e: Engine): Promise<Settings> {
  const row = await e.d1.prepare("SELECT value FROM settings WHERE key = 'frequency_cap'").first<{ value: string }>();
  return { frequencyCap: row ? (JSON.parse(row.value) as FrequencyCap | null) : null };
}

/** Changes the settings given (idempotent: the same value twice changes nothing). */
export async function updateSettings(e: Engine, patch: Partial<Settings>): Promise<Settings> {
  if (patch.frequencyCap !== undefined) {
    checkFrequencyCap(patch.frequencyCap);
    await e.d1
      .prepare(
        `INSERT INTO settings (key, value, updated_at) VALUES ('frequency_cap', ?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .bind(JSON.stringify(patch.frequencyCap), Date.now())
      .run();
  }
  return getSettings(e);
}
