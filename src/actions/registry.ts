import type { Action, ActivitySettingsSource } from "../engine/action";
import { formatPath, invalid } from "../errors";
import { sendEmail } from "./send-email";
import { updateRecord } from "./update-record";
import { webhook } from "./webhook";

/** The actions an activity may name. Adding an action: one file in this folder, one line here. */
export const BUILT_IN_ACTIONS: readonly Action[] = [sendEmail, webhook, updateRecord] as Action[];

export const BUILT_IN_ACTION_NAMES = BUILT_IN_ACTIONS.map((a) => a.name) as [string, ...string[]];

export interface ActionRegistry {
  get(name: string): Action | undefined;
  names(): string[];
}

export function actionRegistry(actions: readonly Action[] = BUILT_IN_ACTIONS): ActionRegistry {
  const byName = new Map(actions.map((a) => [a.name, a]));
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}

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
