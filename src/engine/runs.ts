import { and, asc, eq, gt } from "drizzle-orm";
import { takePage } from "../db/page";
import { activities, type RecordActivityState, recordActivities, scenarioRecords } from "../db/schema";
import { notFound } from "../errors";
import type { Engine } from "./context";
import { getScenarioRow } from "./scenarios";

export type ScenarioRecordRow = typeof scenarioRecords.$inferSelect;
export type RecordActivityRow = typeof recordActivities.$inferSelect;

interface Page {
  limit: number;
  cursor: number | null;
}

export async function listScenarioRecords(
  e: Engine,
  scenarioId: number,
  filter: Page & { blocked?: boolean },
): Promise<{ items: ScenarioRecordRow[]; nextCursor: number | null }> {
  await getScenarioRow(e, scenarioId);
  const rows = await e.db
    .select()
    .from(scenarioRecords)
    .where(
      and(
        eq(scenarioRecords.scenarioId, scenarioId),
        filter.blocked === undefined ? undefined : eq(scenarioRecords.blocked, filter.blocked),
        filter.cursor === null ? undefined : gt(scenarioRecords.id, filter.cursor),
      ),
    )
    .orderBy(asc(scenarioRecords.id))
    .limit(filter.limit + 1)
    .all();
  return takePage(rows, filter.limit, (r) => r.id);
}

export async function getScenarioRecord(e: Engine, id: number): Promise<ScenarioRecordRow> {
  const row = await e.db.select().from(scenarioRecords).where(eq(scenarioRecords.id, id)).get();
  if (!row) throw notFound("scenario record", id);
  return row;
}

export async function listRecordActivities(
  e: Engine,
  scenarioId: number,
  filter: Page & { state?: RecordActivityState; activityId?: number; scenarioRecordId?: number },
): Promise<{ items: RecordActivityRow[]; nextCursor: number | null }> {
  await getScenarioRow(e, scenarioId);
  if (filter.activityId !== undefined) {
    const activity = await e.db
      .select({ scenarioId: activities.scenarioId })
      .from(activities)
      .where(eq(activities.id, filter.activityId))
      .get();
    if (!activity || activity.scenarioId !== scenarioId) return { items: [], nextCursor: null };
  }
  const rows = await e.db
    .select()
    .from(recordActivities)
    .where(
      and(
        eq(recordActivities.scenarioId, scenarioId),
        filter.state === undefined ? undefined : eq(recordActivities.state, filter.state),
        filter.activityId === undefined ? undefined : eq(recordActivities.activityId, filter.activityId),
        filter.scenarioRecordId === undefined
          ? undefined
          : eq(recordActivities.scenarioRecordId, filter.scenarioRecordId),
        filter.cursor === null ? undefined : gt(recordActivities.id, filter.cursor),
      ),
    )
    .orderBy(asc(recordActivities.id))
    .limit(filter.limit + 1)
    .all();
  return takePage(rows, filter.limit, (r) => r.id);
}

export async function getRecordActivity(e: Engine, id: number): Promise<RecordActivityRow> {
  const row = await e.db.select().from(recordActivities).where(eq(recordActivities.id, id)).get();
  if (!row) throw notFound("record activity", id);
  return row;
}
