import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { inIds } from "../../db/chunk";
import {
  type ActivityAction,
  type ActivityOn,
  activities,
  type EmailTranslations,
  recordActivities,
} from "../../db/schema";
import { DURATION_LIMITS, durationProblem } from "../../domain/duration";
import { parseDomain } from "../../domain/parse";
import { templateProblem } from "../../domain/template";
import type { Domain } from "../../domain/types";
import { hasConfirmLink, openTracking } from "../../email/rewrite";
import { checkMailbox } from "../../env";
import { conflict, invalid, notFound } from "../../errors";
import type { SendWindow } from "../../recipients/window";
import { parseActionSettings } from "../action";
import type { Engine } from "../ports";
import { checkSendWindow, checkTranslations } from "../recipients/rules";
import { assertDoubleOptIn } from "./double-opt-in";
import { getScenarioRow, rate } from "./scenarios";

export type ActivityRow = typeof activities.$inferSelect;
export interface ActivityStats {
  recordCount: number;
  emailOpened: number;
  emailClicked: number;
  emailOpenRate: number;
  emailClickRate: number;
  emailClickThroughRate: number;
}
export type Activity = ActivityRow &
  ActivityStats & {
    /** A split branch's weight over its split siblings' weights; null for other activities. */
    splitShare: number | null;
    /** Records that reached the scenario's goal after clicking this activity's e-mail last. */
    conversions: number;
  };

export interface ActivityInput {
  parentId: number | null;
  name: string;
  on: ActivityOn | null;
  condition: Domain | null;
  delay: string | null;
  action: ActivityAction | null;
  emailFrom: string | null;
  emailTitle: string | null;
  emailTemplate: string | null;
  /** Other language versions of the subject and body, by language tag. */
  emailTranslations: EmailTranslations | null;
  /** Overrides the scenario's send window. */
  sendWindow: SendWindow | null;
  settings: Record<string, unknown> | null;
  weight: number | null;
}

const MAX_ACTIVITIES = 500;
/**
 * Bytes an activity's stored fields take at most, its templates and translations together: half of D1's
 * 2,000,000-byte row, so the row, and the rows reading it back with their own columns, stay within D1's limits.
 */
export const MAX_ACTIVITY_BYTES = 1_000_000;
const utf8 = new TextEncoder();

/** The activity's size as stored: its text columns' UTF-8 bytes and its JSON columns' JSON. */
function storedBytes(a: ActivityInput): number {
  const texts = [a.name, a.delay, a.emailFrom, a.emailTitle, a.emailTemplate];
  const jsons = [a.condition, a.emailTranslations, a.sendWindow, a.settings];
  return (
    texts.reduce((n, t) => n + (t === null ? 0 : utf8.encode(t).length), 0) +
    jsons.reduce((n, v) => n + (v === null ? 0 : utf8.encode(JSON.stringify(v)).length), 0)
  );
}

/** Every rule of an activity that does not depend on the rest of the tree. */
function checkOwnRules(e: Engine, a: ActivityInput) {
  if (a.name.trim().length === 0) throw invalid("name: must not be empty");
  const bytes = storedBytes(a);
  if (bytes > MAX_ACTIVITY_BYTES) {
    throw invalid(
      `email_template, email_translations: the activity would take ${bytes} bytes stored (templates, translations, condition and settings together), more than the limit of ${MAX_ACTIVITY_BYTES}`,
    );
  }
  if (a.condition !== null) parseDomain(a.condition, "condition");
  if (a.delay !== null) {
    const problem = durationProblem(a.delay, {
      max: DURATION_LIMITS.maxDelay,
      maxMs: DURATION_LIMITS.maxDelayMs,
      negative: false,
    });
    if (problem) throw invalid(`delay: ${problem}`);
  }
  if (a.on === "split") {
    if (a.weight === null || !Number.isInteger(a.weight) || a.weight < 1 || a.weight > 1000) {
      throw invalid('weight: required when on is "split": an integer from 1 to 1000');
    }
  } else if (a.weight !== null) {
    throw invalid('weight: only for a branch of a random split (on "split")');
  }
  if (
    a.on === "email_not_opened" ||
    a.on === "email_not_clicked" ||
    a.on === "record_not_changed" ||
    a.on === "subscription_not_confirmed"
  ) {
    if (a.delay === null) throw invalid(`delay: required when on is "${a.on}" (how long to wait for the event)`);
  }
  if (a.emailFrom !== null) {
    const checked = checkMailbox(a.emailFrom);
    if (!checked.ok) {
      throw invalid(
        `email_from: must be an e-mail address, optionally with a name: Name <address@example.com> (its ${checked.problem})`,
      );
    }
  }
  for (const [field, text] of [
    ["email_title", a.emailTitle],
    ["email_template", a.emailTemplate],
  ] as const) {
    if (text === null) continue;
    const problem = templateProblem(text);
    if (problem) throw invalid(`${field}: the template does not parse: ${problem}`);
  }
  checkTranslations(a.emailTranslations);
  checkSendWindow(a.sendWindow);
  if (a.action === "send_email" && a.settings !== null) checkSendEmailSettings(a.settings);
  if (a.action !== null) {
    const action = e.actions.get(a.action);
    if (!action) throw invalid(`action: unknown action "${a.action}"; known: ${e.actions.names().join(", ")}`);
    const settings = parseActionSettings(action, a);
    action.validate?.(settings, e.env);
  } else if (a.settings !== null) {
    throw invalid("settings: only for an activity with an action");
  }
}

/** `send_email` reads its e-mail from the `email_*` fields; its `settings` hold only `open_tracking`. */
function checkSendEmailSettings(settings: Record<string, unknown>) {
  for (const [key, value] of Object.entries(settings)) {
    if (key !== "open_tracking") {
      throw invalid(`settings.${key}: unknown setting of send_email; its only setting is open_tracking`);
    }
    if (typeof value !== "boolean") throw invalid("settings.open_tracking: must be true or false");
  }
}

/** The events on an e-mail that only its open pixel reports. */
const OPEN_EVENTS = ["email_opened", "email_not_opened"] as const;
const OPEN_TRACKING_OFF =
  "settings.open_tracking is false (a confirmation e-mail's default): no open pixel is sent, so no open can be seen";

/** The parent's rules: same scenario, `on` only under a `send_email` parent, no cycles. */
async function checkParent(e: Engine, scenarioId: number, a: ActivityInput, selfId: number | null) {
  if (a.parentId === null) {
    if (a.on === "split")
      throw invalid('on: "split" needs a parent activity: the branches of a split are its children');
    if (a.on === "record_changed" || a.on === "record_not_changed") {
      throw invalid(`on: "${a.on}" needs a parent activity: it waits from when its parent has run`);
    }
    if (a.on !== null) throw invalid(`on: "${a.on}" needs a parent activity whose action is "send_email"`);
    return;
  }
  const parent = await e.db.select().from(activities).where(eq(activities.id, a.parentId)).get();
  if (!parent) throw invalid(`parent_id: activity ${a.parentId} does not exist`);
  if (parent.scenarioId !== scenarioId) {
    throw invalid(`parent_id: activity ${a.parentId} belongs to another scenario`);
  }
  if ((a.on?.startsWith("email_") || a.on?.startsWith("subscription_")) && parent.action !== "send_email") {
    throw invalid(`on: "${a.on}" is only allowed when the parent's action is "send_email"`);
  }
  if ((a.on === "email_opened" || a.on === "email_not_opened") && !openTracking(parent)) {
    throw invalid(
      `on: "${a.on}" needs open tracking on the parent e-mail, and activity ${a.parentId}'s ${OPEN_TRACKING_OFF}`,
    );
  }
  if (a.on?.startsWith("subscription_") && !hasConfirmLink(parent.emailTemplate ?? "")) {
    throw invalid(
      `on: "${a.on}" needs a confirmation e-mail as parent: activity ${a.parentId}'s template has no href="confirm" link`,
    );
  }
  if (selfId !== null) {
    const tree = await scenarioActivities(e, scenarioId);
    if (subtreeIds(tree, selfId).has(a.parentId)) {
      throw invalid(`parent_id: activity ${a.parentId} is this activity or one of its descendants (no cycles)`);
    }
  }
}

export async function scenarioActivities(e: Engine, scenarioId: number): Promise<ActivityRow[]> {
  return e.db.select().from(activities).where(eq(activities.scenarioId, scenarioId)).orderBy(asc(activities.id)).all();
}

/** The ids of `rootId` and all its descendants. */
export function subtreeIds(tree: ActivityRow[], rootId: number): Set<number> {
  const ids = new Set([rootId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const a of tree) {
      if (a.parentId !== null && ids.has(a.parentId) && !ids.has(a.id)) {
        ids.add(a.id);
        grew = true;
      }
    }
  }
  return ids;
}

/**
 * A running scenario that requires double opt-in keeps to its rules through every change of its tree (a 409 naming
 * why): `change` gives the tree as it would be.
 */
async function keepDoubleOptIn(
  e: Engine,
  scenarioId: number,
  doing: string,
  change: (tree: ActivityRow[]) => ActivityRow[],
): Promise<void> {
  const scenario = await getScenarioRow(e, scenarioId);
  if (!scenario.doubleOptIn || scenario.state !== "running") return;
  assertDoubleOptIn(scenarioId, change(await scenarioActivities(e, scenarioId)), doing);
}

export async function createActivity(e: Engine, scenarioId: number, input: ActivityInput): Promise<Activity> {
  await getScenarioRow(e, scenarioId);
  checkOwnRules(e, input);
  await checkParent(e, scenarioId, input, null);
  await keepDoubleOptIn(e, scenarioId, "take this activity while running", (tree) => [
    ...tree,
    {
      ...input,
      id: 0,
      scenarioId,
      createdAt: 0,
      updatedAt: 0,
      countDone: 0,
      countOpened: 0,
      countClicked: 0,
      countConverted: 0,
      countWaiting: 0,
      countCancelled: 0,
      countFailed: 0,
    },
  ]);
  const existing = await e.db
    .select({ n: sql<number>`count(*)` })
    .from(activities)
    .where(eq(activities.scenarioId, scenarioId))
    .get();
  if ((existing?.n ?? 0) >= MAX_ACTIVITIES)
    throw invalid(`scenario ${scenarioId} already has ${MAX_ACTIVITIES} activities`);
  const now = Date.now();
  const row = await e.db
    .insert(activities)
    .values({ ...input, scenarioId, createdAt: now, updatedAt: now })
    .returning()
    .get();
  return (await withStats(e, [row]))[0] as Activity;
}

export async function getActivityRow(e: Engine, id: number): Promise<ActivityRow> {
  const row = await e.db.select().from(activities).where(eq(activities.id, id)).get();
  if (!row) throw notFound("activity", id);
  return row;
}

export async function getActivity(e: Engine, id: number): Promise<Activity> {
  return (await withStats(e, [await getActivityRow(e, id)]))[0] as Activity;
}

/** The scenario's activities in depth-first order (parents before children), with their stats. */
export async function listActivityTree(e: Engine, scenarioId: number): Promise<Activity[]> {
  await getScenarioRow(e, scenarioId);
  const rows = await scenarioActivities(e, scenarioId);
  const ordered: ActivityRow[] = [];
  const visit = (parentId: number | null) => {
    for (const a of rows) {
      if (a.parentId === parentId) {
        ordered.push(a);
        visit(a.id);
      }
    }
  };
  visit(null);
  return withStats(e, ordered);
}

export async function updateActivity(e: Engine, id: number, patch: Partial<ActivityInput>): Promise<Activity> {
  const current = await getActivityRow(e, id);
  const merged: ActivityInput = {
    parentId: current.parentId,
    name: current.name,
    on: current.on,
    condition: current.condition,
    delay: current.delay,
    action: current.action,
    emailFrom: current.emailFrom,
    emailTitle: current.emailTitle,
    emailTemplate: current.emailTemplate,
    emailTranslations: current.emailTranslations,
    sendWindow: current.sendWindow,
    settings: current.settings,
    weight: current.weight,
    ...patch,
  };
  checkOwnRules(e, merged);
  await checkParent(e, current.scenarioId, merged, id);
  if (merged.action === "send_email" && !hasConfirmLink(merged.emailTemplate ?? "")) {
    const waiting = await e.db
      .select({ id: activities.id })
      .from(activities)
      .where(
        and(
          eq(activities.parentId, id),
          inArray(activities.on, ["subscription_confirmed", "subscription_not_confirmed"]),
        ),
      )
      .limit(1)
      .get();
    if (waiting) {
      throw invalid(
        `email_template: child activity ${waiting.id} waits for the subscription's confirmation, which needs a href="confirm" link here`,
      );
    }
  }
  if (merged.action === "send_email" && !openTracking(merged)) {
    const opens = await e.db
      .select({ id: activities.id, on: activities.on })
      .from(activities)
      .where(and(eq(activities.parentId, id), inArray(activities.on, [...OPEN_EVENTS])))
      .limit(1)
      .get();
    if (opens) {
      throw invalid(
        `settings.open_tracking: child activity ${opens.id} waits for "${opens.on}", which needs open tracking here; ` +
          "set settings.open_tracking to true or remove that child",
      );
    }
  }
  await keepDoubleOptIn(e, current.scenarioId, "take this change while running", (tree) =>
    tree.map((a) => (a.id === id ? { ...a, ...merged } : a)),
  );
  if (merged.action !== "send_email") {
    const eventChild = await e.db
      .select({ id: activities.id, on: activities.on })
      .from(activities)
      .where(
        and(
          eq(activities.parentId, id),
          sql`(substr(${activities.on}, 1, 6) = 'email_' OR substr(${activities.on}, 1, 13) = 'subscription_')`,
        ),
      )
      .limit(1)
      .get();
    if (eventChild) {
      throw invalid(
        `action: child activity ${eventChild.id} waits for "${eventChild.on}", which needs "send_email" here`,
      );
    }
  }
  // Record activities of an event branch wait for an event on their parent's e-mail: moving the activity, or changing
  // what it reacts to, would leave them reacting to the wrong e-mail or to none. The check is part of the update, so
  // a record activity created meanwhile is seen too.
  const guarded = reactionChanges(current, merged);
  const row = await e.db
    .update(activities)
    .set({ ...patch, updatedAt: Date.now() })
    .where(and(eq(activities.id, id), guarded ? sql`NOT EXISTS (${waitingOf(id)})` : undefined))
    .returning()
    .get();
  if (!row) {
    await getActivityRow(e, id);
    const waiting = await e.db
      .select({ n: activities.countWaiting })
      .from(activities)
      .where(eq(activities.id, id))
      .get();
    throw conflict(
      `activity ${id} has ${waiting?.n ?? "some"} waiting record activities that react to ` +
        `${current.on === null ? "their parent's e-mail" : `"${current.on}" on their parent's e-mail`}: ` +
        "changing its parent_id or on would leave them waiting for an e-mail they can no longer react to. " +
        "Change it once they have run, or create a new activity instead",
    );
  }
  return (await withStats(e, [row]))[0] as Activity;
}

/**
 * True when the change moves an event branch (`on` set before or after) to another parent, or changes its `on`:
 * what its waiting record activities react to would change under them. Moving an activity with `on = null` carries
 * its waiting record activities along: they are due at a time, whatever the parent.
 */
function reactionChanges(current: ActivityRow, next: ActivityInput): boolean {
  if (current.on !== next.on) return true;
  return current.parentId !== next.parentId && (current.on !== null || next.on !== null);
}

/** The activity has record activities not finished (its count, kept on its row: no record activity is read). */
function waitingOf(activityId: number) {
  return sql`SELECT 1 FROM activities w WHERE w.id = ${activityId} AND w.count_waiting > 0`;
}

/** Deletes the activity and its whole subtree (their record activities cascade). */
export async function deleteActivity(e: Engine, id: number): Promise<number[]> {
  const current = await getActivityRow(e, id);
  const tree = await scenarioActivities(e, current.scenarioId);
  const ids = [...subtreeIds(tree, id)];
  await keepDoubleOptIn(e, current.scenarioId, "lose this activity while running", (all) =>
    all.filter((a) => !ids.includes(a.id)),
  );
  await e.db.batch([
    e.db.delete(recordActivities).where(inIds(recordActivities.activityId, ids)),
    e.db.delete(activities).where(inIds(activities.id, ids)),
  ]);
  return ids;
}

/**
 * Adds each activity's stats: done record activities, opens and clicks (human ones only), and their rates. Those
 * counts and its conversions are kept on the activity's row by triggers, so no record activity or scenario record is
 * read.
 */
export async function withStats(e: Engine, rows: ActivityRow[]): Promise<Activity[]> {
  if (rows.length === 0) return [];
  const byId = new Map(rows.map((r) => [r.id, { done: r.countDone, opened: r.countOpened, clicked: r.countClicked }]));
  const splitParents = [...new Set(rows.filter((r) => r.on === "split" && r.parentId !== null).map((r) => r.parentId))];
  const splitTotals = new Map<number, number>();
  if (splitParents.length > 0) {
    const totals = await e.db
      .select({ parentId: activities.parentId, total: sql<number>`coalesce(sum(${activities.weight}), 0)` })
      .from(activities)
      .where(and(inIds(activities.parentId, splitParents as number[]), eq(activities.on, "split")))
      .groupBy(activities.parentId)
      .all();
    for (const t of totals) splitTotals.set(t.parentId as number, t.total);
  }
  return rows.map((row) => {
    const s = byId.get(row.id) ?? { done: 0, opened: 0, clicked: 0 };
    return {
      ...row,
      recordCount: s.done,
      emailOpened: s.opened,
      emailClicked: s.clicked,
      emailOpenRate: rate(s.opened, s.done),
      emailClickRate: rate(s.clicked, s.done),
      emailClickThroughRate: rate(s.clicked, s.opened),
      conversions: row.countConverted,
      splitShare:
        row.on === "split" && row.parentId !== null ? rate(row.weight ?? 0, splitTotals.get(row.parentId) ?? 0) : null,
    };
  });
}
