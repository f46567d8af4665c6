import { and, asc, eq, sql } from "drizzle-orm";
import { inIds } from "../db/chunk";
import { type ActivityAction, type ActivityOn, activities, recordActivities } from "../db/schema";
import { isNegative, parseDuration } from "../domain/duration";
import { parseDomain } from "../domain/parse";
import type { Domain } from "../domain/types";
import { templateProblem } from "../email/template";
import { parseAddress } from "../env";
import { invalid, notFound } from "../errors";
import type { Engine } from "./context";
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
export type Activity = ActivityRow & ActivityStats;

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
}

const MAX_ACTIVITIES = 500;

/** Every rule of an activity that does not depend on the rest of the tree. */
function checkOwnRules(a: ActivityInput) {
  if (a.name.trim().length === 0) throw invalid("name: must not be empty");
  if (a.condition !== null) parseDomain(a.condition, "condition");
  if (a.delay !== null) {
    const d = parseDuration(a.delay);
    if (!d) throw invalid(`delay: "${a.delay}" is not an ISO 8601 duration (e.g. PT30M, P2D)`);
    if (isNegative(d)) throw invalid("delay: must not be negative");
  }
  if (a.on === "email_not_opened" || a.on === "email_not_clicked") {
    if (a.delay === null) throw invalid(`delay: required when on is "${a.on}" (how long to wait for the event)`);
  }
  if (a.emailFrom !== null && !parseAddress(a.emailFrom)) {
    throw invalid("email_from: must be an e-mail address, optionally with a name: Name <address@example.com>");
  }
  if (a.action === "send_email") {
    if (!a.emailTitle?.trim()) throw invalid('email_title: required when action is "send_email"');
    if (!a.emailTemplate?.trim()) throw invalid('email_template: required when action is "send_email"');
  }
  for (const [field, text] of [
    ["email_title", a.emailTitle],
    ["email_template", a.emailTemplate],
  ] as const) {
    if (text === null) continue;
    const problem = templateProblem(text);
    if (problem) throw invalid(`${field}: the template does not parse: ${problem}`);
  }
}

/** The parent's rules: same scenario, `on` only under a `send_email` parent, no cycles. */
async function checkParent(e: Engine, scenarioId: number, a: ActivityInput, selfId: number | null) {
  if (a.parentId === null) {
    if (a.on !== null) throw invalid(`on: "${a.on}" needs a parent activity whose action is "send_email"`);
    return;
  }
  const parent = await e.db.select().from(activities).where(eq(activities.id, a.parentId)).get();
  if (!parent) throw invalid(`parent_id: activity ${a.parentId} does not exist`);
  if (parent.scenarioId !== scenarioId) {
    throw invalid(`parent_id: activity ${a.parentId} belongs to another scenario`);
  }
  if (a.on !== null && parent.action !== "send_email") {
    throw invalid(`on: "${a.on}" is only allowed when the parent's action is "send_email"`);
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

export async function createActivity(e: Engine, scenarioId: number, input: ActivityInput): Promise<Activity> {
  await getScenarioRow(e, scenarioId);
  checkOwnRules(input);
  await checkParent(e, scenarioId, input, null);
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
    ...patch,
  };
  checkOwnRules(merged);
  await checkParent(e, current.scenarioId, merged, id);
  if (merged.action !== "send_email") {
    const eventChild = await e.db
      .select({ id: activities.id, on: activities.on })
      .from(activities)
      .where(and(eq(activities.parentId, id), sql`${activities.on} IS NOT NULL`))
      .limit(1)
      .get();
    if (eventChild) {
      throw invalid(
        `action: child activity ${eventChild.id} waits for "${eventChild.on}", which needs "send_email" here`,
      );
    }
  }
  const row = await e.db
    .update(activities)
    .set({ ...patch, updatedAt: Date.now() })
    .where(eq(activities.id, id))
    .returning()
    .get();
  if (!row) throw notFound("activity", id);
  return (await withStats(e, [row]))[0] as Activity;
}

/** Deletes the activity and its whole subtree (their record activities cascade). */
export async function deleteActivity(e: Engine, id: number): Promise<number[]> {
  const current = await getActivityRow(e, id);
  const tree = await scenarioActivities(e, current.scenarioId);
  const ids = [...subtreeIds(tree, id)];
  await e.db.batch([
    e.db.delete(recordActivities).where(inIds(recordActivities.activityId, ids)),
    e.db.delete(activities).where(inIds(activities.id, ids)),
  ]);
  return ids;
}

/**
 * Adds each activity's stats: done record activities, opens and clicks (human ones only), and their rates. The counts
 * are kept on the activity's row by triggers, so no record activity is read.
 */
export async function withStats(_e: Engine, rows: ActivityRow[]): Promise<Activity[]> {
  const byId = new Map(rows.map((r) => [r.id, { done: r.countDone, opened: r.countOpened, clicked: r.countClicked }]));
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
    };
  });
}
