import { formatPath, invalid } from "../errors";
import type { Action, ActivitySettingsSource } from "./ports";

/** The activity's settings for its action, validated; an invalid one is a 400 naming the field. */
export function parseActionSettings(action: Action, activity: ActivitySettingsSource): unknown {
  const raw = action.readSettings ? action.readSettings(activity) : (activity.settings ?? {});
  const parsed = action.settings.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const prefix = action.settingsPrefix ?? "settings";
  const path = formatPath([...(prefix ? [prefix] : []), ...(issue?.path ?? [])]);
  throw invalid(`${path || "settings"}: ${issue?.message ?? "invalid"}`);
}

export const errorMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));
