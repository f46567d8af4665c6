import type { Engine } from "../ports";
import { getScenarioRow } from "../scenarios/scenarios";

/** One recipient of a scenario (a scenario record) as a marketer reads the results. */
export interface ExportRow {
  scenarioRecordId: number;
  recordId: string;
  partyId: string | null;
  /** The address its e-mails went to (the last one), else its party's `email` field; null when none. */
  address: string | null;
  /** Names of the activities done for it, in the tree's order (activity id). */
  activities: string[];
  opened: boolean;
  clicked: boolean;
  /** One of its e-mails bounced (a hard or soft bounce came back). */
  bounced: boolean;
  /** Blocked: it unsubscribed (or was blocked through the API). */
  unsubscribed: boolean;
  /** It reached the scenario's goal. */
  converted: boolean;
  convertedAt: number | null;
}

export type ExportFormat = "csv" | "jsonl";

/** Scenario records read a step: the stream holds one page at a time, whatever the scenario's size. */
export const EXPORT_PAGE = 200;

/**
 * One page of the scenario's results, by scenario record id after `cursor`: two reads (the scenario records with
 * their party's address, then their record activities by `record_activities_once`).
 */
export async function exportPage(
  e: Engine,
  scenarioId: number,
  cursor: number | null,
  limit = EXPORT_PAGE,
): Promise<{ rows: ExportRow[]; nextCursor: number | null }> {
  const { results: srs } = await e.d1
    .prepare(
      `SELECT sr.id, sr.record_id, sr.party_id, sr.blocked, sr.goal_reached_at,
              json_extract(p.fields, '$.email') AS party_email
       FROM scenario_records sr
       LEFT JOIN records p ON p.model = 'party' AND p.id = sr.party_id
       WHERE sr.scenario_id = ?1 AND sr.id > ?2
       ORDER BY sr.id
       LIMIT ?3`,
    )
    .bind(scenarioId, cursor ?? -1, limit + 1)
    .all<{
      id: number;
      record_id: string;
      party_id: string | null;
      blocked: number;
      goal_reached_at: number | null;
      party_email: unknown;
    }>();
  const page = srs.slice(0, limit);
  const nextCursor = srs.length > limit ? (page[page.length - 1]?.id ?? null) : null;
  if (page.length === 0) return { rows: [], nextCursor: null };
  const { results: ras } = await e.d1
    .prepare(
      `SELECT ra.scenario_record_id AS sr, a.name, ra.state, ra.email_opened AS opened, ra.email_clicked AS clicked,
              ra.email_to AS address,
              EXISTS (SELECT 1 FROM delivery_events d
                      WHERE d.record_activity_id = ra.id AND d.kind IN ('hard_bounce', 'soft_bounce')) AS bounced
       FROM record_activities ra JOIN activities a ON a.id = ra.activity_id
       WHERE ra.scenario_record_id IN (SELECT value FROM json_each(?1))
       ORDER BY ra.scenario_record_id, ra.activity_id`,
    )
    .bind(JSON.stringify(page.map((r) => r.id)))
    .all<{
      sr: number;
      name: string;
      state: string;
      opened: number;
      clicked: number;
      address: string | null;
      bounced: number;
    }>();
  const rows = new Map<number, ExportRow>(
    page.map((r) => [
      r.id,
      {
        scenarioRecordId: r.id,
        recordId: r.record_id,
        partyId: r.party_id,
        address: typeof r.party_email === "string" ? r.party_email : null,
        activities: [],
        opened: false,
        clicked: false,
        bounced: false,
        unsubscribed: Boolean(r.blocked),
        converted: r.goal_reached_at !== null,
        convertedAt: r.goal_reached_at,
      },
    ]),
  );
  for (const ra of ras) {
    const row = rows.get(ra.sr);
    if (!row) continue;
    if (ra.state === "done") row.activities.push(ra.name);
    if (ra.address) row.address = /<([^<>]*)>\s*$/.exec(ra.address)?.[1] ?? ra.address;
    row.opened ||= Boolean(ra.opened);
    row.clicked ||= Boolean(ra.clicked);
    row.bounced ||= Boolean(ra.bounced);
  }
  return { rows: [...rows.values()], nextCursor };
}

export const EXPORT_COLUMNS = [
  "scenario_record_id",
  "record_id",
  "party_id",
  "address",
  "activities",
  "opened",
  "clicked",
  "bounced",
  "unsubscribed",
  "converted",
  "converted_at",
] as const;

/** The row with the API's names (ids as strings, times as ISO 8601). */
export function exportRecord(r: ExportRow) {
  return {
    scenario_record_id: String(r.scenarioRecordId),
    record_id: r.recordId,
    party_id: r.partyId,
    address: r.address,
    activities: r.activities,
    opened: r.opened,
    clicked: r.clicked,
    bounced: r.bounced,
    unsubscribed: r.unsubscribed,
    converted: r.converted,
    converted_at: r.convertedAt === null ? null : new Date(r.convertedAt).toISOString(),
  };
}

/**
 * A CSV cell (RFC 4180): quoted when it holds a comma, a quote or a line break. A cell that a spreadsheet would read
 * as a formula (=, +, -, @, tab, carriage return first) gets a leading apostrophe.
 */
export function csvCell(value: unknown): string {
  let text = value === null || value === undefined ? "" : Array.isArray(value) ? value.join("; ") : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvLine(r: ExportRow): string {
  const o = exportRecord(r);
  return `${EXPORT_COLUMNS.map((c) => csvCell(o[c])).join(",")}\r\n`;
}

/**
 * The scenario's results, one row per scenario record, as CSV (with a header line) or JSON lines: a stream that
 * reads one page when the reader wants more, so memory stays bounded whatever the scenario's size. 404 (thrown
 * before any byte) for a scenario that does not exist. What retention moved to R2 (finished record activities older
 * than RETENTION_DAYS) is not read: their activities are not listed.
 */
export async function exportScenarioResults(
  e: Engine,
  scenarioId: number,
  format: ExportFormat,
  pageSize = EXPORT_PAGE,
): Promise<ReadableStream<Uint8Array>> {
  await getScenarioRow(e, scenarioId);
  const encoder = new TextEncoder();
  let cursor: number | null = null;
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let text = "";
        if (!started && format === "csv") text += `${EXPORT_COLUMNS.join(",")}\r\n`;
        started = true;
        const page = await exportPage(e, scenarioId, cursor, pageSize);
        for (const r of page.rows) text += format === "csv" ? csvLine(r) : `${JSON.stringify(exportRecord(r))}\n`;
        cursor = page.nextCursor;
        if (text) controller.enqueue(encoder.encode(text));
        if (cursor === null) controller.close();
      },
    },
    { highWaterMark: 1 },
  );
}
