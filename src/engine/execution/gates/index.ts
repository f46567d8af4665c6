import { activityCondition } from "./condition";
import type { Gate } from "./gate";
import { scenarioGoal } from "./goal";
import { recipientGate } from "./recipient";
import { subscriptionGate } from "./subscription";
import { suppression } from "./suppression";

export type { Gate } from "./gate";

/**
 * The gates every claimed record activity passes before its action, in this order (see docs/engine.md). Adding one:
 * a file in this folder and a line here.
 */
export const GATES: readonly Gate[] = [activityCondition, scenarioGoal, subscriptionGate, suppression, recipientGate];
