import { and, asc, eq, gt } from "drizzle-orm";
import { inIds } from "../db/chunk";
import { activities, type emails, hits, links, records, subscriptionConfirmations } from "../db/schema";
import { emailArchive } from "../db/views";
import { unpackLinkUrls } from "../email/link-urls";
import { emailsOfRecordActivities } from "../email/of-record-activity";
import type { Engine } from "../engine/ports";
import { deliveryEventsOf } from "../engine/recipients/deliveries";
import {
  type ActivityReportRow,
  activityReports,
  rangeDates,
  reportRange,
  type ScenarioReportRow,
  scenarioReport,
} from "../engine/reports/reports";
import { retentionNoteOf } from "../engine/retention/retention";
import { getEmail, listEmails } from "../engine/runs/emails";
import { getScenarioRecord, listRecordActivities, listScenarioRecords } from "../engine/runs/runs";
import { type Activity, listActivityTree, scenarioActivities } from "../engine/scenarios/activities";
import { getScenario, getScenarioRow } from "../engine/scenarios/scenarios";
import { getConfig } from "../env";
import { signKey } from "../signing/keys";
import { viewableHtml } from "./email-body";

/** What the console's pages read, through the engine's verbs; the few reads no verb offers are here, set-based. */

export type HitRow = typeof hits.$inferSelect;
export type EmailRow = typeof emails.$inferSelect;

/** The window of the trend charts: the last 30 days, by day. */
const trendRange = () => reportRange({ period: "day" });

export interface ActivityNode {
  activity: Activity;
  /** Record activities of this activity by state (the stats only count the done ones). */
  states: Record<string, number>;
  trend: ActivityReportRow[];
  children: ActivityNode[];
}

/** Record activities by activity and state: waiting (or running), cancelled and failed, kept on the activity's row. */
async function statesOf(e: Engine, activityIds: number[]): Promise<Map<number, Record<string, number>>> {
  const states = new Map<number, Record<string, number>>();
  if (activityIds.length === 0) return states;
  const rows = await e.db
    .select({
      id: activities.id,
      waiting: activities.countWaiting,
      cancelled: activities.countCancelled,
      failed: activities.countFailed,
    })
    .from(activities)
    .where(inIds(activities.id, activityIds))
    .all();
  for (const r of rows) states.set(r.id, { waiting: r.waiting, cancelled: r.cancelled, failed: r.failed });
  return states;
}

/**
 * A scenario with its tree (stats and 30-day trends of every activity), a page of its records, the e-mails of its
 * latest scenario records (the list by scenario's order: src/engine/runs/emails.ts).
 */
export async function scenarioPage(e: Engine, scenarioId: number, cursor: number | null) {
  const range = trendRange();
  const [scenario, tree, trend, recordsPage, latest] = await Promise.all([
    getScenario(e, scenarioId),
    listActivityTree(e, scenarioId),
    scenarioReport(e, scenarioId, range),
    listScenarioRecords(e, scenarioId, { limit: 50, cursor }),
    listEmails(e, { scenarioId, limit: 10, cursor: null }).then((page) => page.items),
  ]);
  const activityIds = tree.map((a) => a.id);
  const [trends, states] = await Promise.all([activityReports(e, activityIds, range), statesOf(e, activityIds)]);
  const nodes = new Map<number, ActivityNode>(
    tree.map((a) => [
      a.id,
      { activity: a, states: states.get(a.id) ?? {}, trend: trends.get(a.id) ?? [], children: [] },
    ]),
  );
  const roots: ActivityNode[] = [];
  for (const a of tree) {
    const node = nodes.get(a.id) as ActivityNode;
    const parent = a.parentId === null ? undefined : nodes.get(a.parentId);
    (parent ? parent.children : roots).push(node);
  }
  return {
    scenario,
    roots,
    trend: trend as ScenarioReportRow[],
    range: rangeDates(range),
    recordsPage,
    latest,
    /** Where rows older than the retention window are (the reports' `retention`); null when retention is off. */
    retention: retentionNoteOf(e) ?? null,
  };
}

/** Tracking hits one timeline page shows; more are one "next hits" link away. */
export const TIMELINE_HITS = 1000;

/**
 * One scenario record's story: its record activities in the order they arose (one per activity, so at most the 500 a
 * scenario may have: never cut), their e-mails, and a page of their hits after `hitsAfter` (a hit id), oldest first.
 */
export async function timelinePage(e: Engine, scenarioRecordId: number, hitsAfter: number | null = null) {
  const scenarioRecord = await getScenarioRecord(e, scenarioRecordId);
  const [scenario, activities, steps, record, confirmation] = await Promise.all([
    getScenarioRow(e, scenarioRecord.scenarioId),
    scenarioActivities(e, scenarioRecord.scenarioId),
    listRecordActivities(e, scenarioRecord.scenarioId, { scenarioRecordId, limit: 500, cursor: null }),
    e.db
      .select({ fields: records.fields })
      .from(records)
      .where(and(eq(records.model, scenarioRecord.model), eq(records.id, scenarioRecord.recordId)))
      .get(),
    e.db
      .select()
      .from(subscriptionConfirmations)
      .where(eq(subscriptionConfirmations.scenarioRecordId, scenarioRecordId))
      .get(),
  ]);
  const ids = steps.items.map((s) => s.id);
  const [sent, hitRows, deliveries] =
    ids.length === 0
      ? [[], [], []]
      : await Promise.all([
          e.db.select().from(emailArchive).where(emailsOfRecordActivities(ids)).orderBy(asc(emailArchive.id)).all(),
          e.db
            .select()
            .from(hits)
            .where(and(inIds(hits.recordActivityId, ids), hitsAfter === null ? undefined : gt(hits.id, hitsAfter)))
            .orderBy(asc(hits.id))
            .limit(TIMELINE_HITS + 1)
            .all(),
          deliveryEventsOf(e.d1, { recordActivityIds: ids }),
        ]);
  const moreHits = hitRows.length > TIMELINE_HITS;
  if (moreHits) hitRows.pop();
  const ordered = [...steps.items].sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
  // Finished record activities, e-mails and hits older than the retention window have left D1 for R2
  // (src/engine/retention/retention.ts): said when the scenario record began before the window.
  const retention = retentionNoteOf(e) ?? null;
  const retainedBefore = retention === null ? null : Date.parse(retention.retained_before);
  return {
    scenario,
    scenarioRecord,
    retention: retainedBefore !== null && scenarioRecord.createdAt < retainedBefore ? retention : null,
    record: record?.fields ?? null,
    /** The recipient's confirmation of its subscription (double opt-in), when it confirmed. */
    confirmation: confirmation ?? null,
    activityName: new Map(activities.map((a) => [a.id, a.name])),
    hitsAfter,
    nextHitsAfter: moreHits ? (hitRows[hitRows.length - 1]?.id ?? null) : null,
    steps: ordered.map((step) => ({
      step,
      emails: sent
        .filter((m) => m.recordActivityId === step.id)
        .map((m) => ({ ...m, deliveries: deliveries.filter((d) => d.email_id === m.id) })),
      hits: hitRows.filter((h) => h.recordActivityId === step.id),
    })),
  };
}

/** An archived e-mail with its HTML made safe to look at (no tracking fires), and where it belongs. */
export async function emailPage(e: Engine, emailId: number) {
  const { email, body } = await getEmail(e, emailId);
  const [scenario, activities] = await Promise.all([
    getScenarioRow(e, email.scenarioId),
    scenarioActivities(e, email.scenarioId),
  ]);
  return {
    email,
    body,
    scenario,
    activityName: activities.find((a) => a.id === email.activityId)?.name ?? `activity ${email.activityId}`,
  };
}

/** The e-mail's HTML for the sandboxed frame; null when the archive has no body for it. */
export async function emailBodyHtml(e: Engine, emailId: number): Promise<string | null> {
  const { email, body } = await getEmail(e, emailId);
  if (!body) return null;
  const config = getConfig(e.env);
  const [legacy, urls] = await Promise.all([
    e.db
      .select({ key: links.key, kind: links.kind, url: links.url })
      .from(links)
      .where(eq(links.emailId, emailId))
      .all(),
    unpackLinkUrls(email.linkUrls),
  ]);
  // Signed click keys are recomputed from the positions, so nothing but the e-mail row is read for them.
  const signed = await Promise.all(
    urls.map(async (url, position) => ({
      key: await signKey(config.trackingSecret, { emailId, kind: "click", position }),
      kind: "click" as const,
      url,
    })),
  );
  return viewableHtml(body.html, config.automationBase, [...legacy, ...signed]);
}
