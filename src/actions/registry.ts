import type { Mailer } from "../email/job";
import type { Action, ActionRegistry } from "../engine/ports";
import { sendEmail } from "./send-email";
import { updateRecord } from "./update-record";
import { webhook } from "./webhook";

/** What the built-in actions are built with: `send_email`'s mailer, asked for when it first sends. */
export interface ActionPorts {
  mailer: () => Mailer;
}

/** The actions an activity may name. Adding an action: one file in this folder, one line here. */
export function builtInActions(ports: ActionPorts): readonly Action[] {
  return [sendEmail(ports.mailer), webhook, updateRecord] as Action[];
}

/** The names of the built-in actions (what the API's schema offers). */
export const BUILT_IN_ACTION_NAMES = ["send_email", "webhook", "update_record"] as [string, ...string[]];

export function actionRegistry(actions: readonly Action[]): ActionRegistry {
  const byName = new Map(actions.map((a) => [a.name, a]));
  return { get: (name) => byName.get(name), names: () => [...byName.keys()] };
}
