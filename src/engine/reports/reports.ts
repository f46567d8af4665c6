import { invalid } from "../../errors";
import type { Engine } from "../ports";
import { type ActivityStats, getActivityRow } from "../scenarios/activities";
import { getScenarioRow, rate } from "../scenarios/scenarios";

/**
 * Counts and rates per period (UTC day, month or year), as the original module's reporting views: one set-based
 * query a report, grouped by `strftime` over the epoch-ms columns. Periods without activity are filled with zeros so
 * a trend can be drawn.
 */

export type Period = "day" | "month" | "year";

export interface ReportRange {
  period: Period;
  /** Start of the first period (epoch ms, inclusive). */
  start: number;
  /** End of the last period (epoch ms, exclusive). */
  end: number;
  /** The period keys in order: `2026-11-27`, `2026-11` or `2026`. */
  keys: string[];
}

/** At most this many periods a report: 1,000 days is close to three years. */
export const MAX_PERIODS = 1000;
/** Without `from`: the last 30 days, 12 months or 5 years up to `to`. */
const DEFAULT_SPAN: Record<Period, number> = { day: 30, month: 12, year: 5 };
/** SQLite `strftime` formats whose output is the period key. */
const FORMAT: Record<Period, string> = { day: "%Y-%m-%d", month: "%Y-%m", year: "%Y" };

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/;

/** Parses `YYYY-MM-DD` (or the reduced `YYYY-MM`, `YYYY`) as a UTC date; a 400 naming `field` otherwise. */
function parseDate(text: string, field: string): number {
  const m = DATE.exec(text);
  const problem = () =>
    invalid(`${field}: "${text}" is not an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY, UTC, year 1970-9999)`);
  if (!m) throw problem();
  const year = Number(m[1]);
  const month = m[2] === undefined ? 1 : Number(m[2]);
  const day = m[3] === undefined ? 1 : Number(m[3]);
  const ms = Date.UTC(year, month - 1, day);
  const d = new Date(ms);
  // Date.UTC rolls 2026-02-30 over to March: a date that does not come back unchanged does not exist.
  if (year < 1970 || d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) {
    throw problem();
  }
  return ms;
}

/** The start of the period holding `ms`, moved by `n` periods. */
function periodStart(period: Period, ms: number, n = 0): number {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (period === "year") return Date.UTC(y + n, 0, 1);
  if (period === "month") return Date.UTC(y, d.getUTCMonth() + n, 1);
  return Date.UTC(y, d.getUTCMonth(), d.getUTCDate() + n);
}

/** How many periods from the one starting at `a` to the one starting at `b` (b >= a). */
function periodsBetween(period: Period, a: number, b: number): number {
  const da = new Date(a);
  const db = new Date(b);
  const years = db.getUTCFullYear() - da.getUTCFullYear();
  if (period === "year") return years;
  if (period === "month") return years * 12 + db.getUTCMonth() - da.getUTCMonth();
  return Math.round((b - a) / 86_400_000);
}

export function periodKey(period: Period, ms: number): string {
  const iso = new Date(ms).toISOString();
  return period === "year" ? iso.slice(0, 4) : period === "month" ? iso.slice(0, 7) : iso.slice(0, 10);
}

/**
 * The whole periods a report covers. `from` and `to` are UTC dates, both inclusive, widened to whole periods;
 * `to` defaults to today and `from` to the last 30 days, 12 months or 5 years up to `to`. Refuses (400, naming the
 * field) a date that does not exist, `from` after `to`, and more than MAX_PERIODS periods.
 */
export function reportRange(query: { period?: Period; from?: string; to?: string }, now = Date.now()): ReportRange {
  const period = query.period ?? "day";
  const last = periodStart(period, query.to === undefined ? now : parseDate(query.to, "to"));
  const first =
    query.from === undefined
      ? periodStart(period, last, -(DEFAULT_SPAN[period] - 1))
      : periodStart(period, parseDate(query.from, "from"));
  if (first > last) {
    throw invalid(
      `from: ${periodKey(period, first)} is after to (${periodKey(period, last)}${query.to === undefined ? ", today" : ""})`,
    );
  }
  const count = periodsBetween(period, first, last) + 1;
  if (count > MAX_PERIODS) {
    throw invalid(
      `from: the range from ${periodKey(period, first)} to ${periodKey(period, last)} holds ${count} ${period}s; ` +
        `a report covers at most ${MAX_PERIODS} periods (narrow from/to, or use a longer period)`,
    );
  }
  const keys = Array.from({ length: count }, (_, i) => periodKey(period, periodStart(period, first, i)));
  return { period, start: first, end: periodStart(period, last, 1), keys };
}

export interface ScenarioReportRow {
  period: string;
  /** Scenario records created in the period. */
  recordCount: number;
  /** Of those, the ones blocked now. */
  recordCountBlocked: number;
  blockRate: number;
}

/** Records that entered the scenario per period, and how many of them are blocked now. */
export async function scenarioReport(e: Engine, scenarioId: number, range: ReportRange): Promise<ScenarioReportRow[]> {
  await getScenarioRow(e, scenarioId);
  const { results } = await e.d1
    .prepare(
      `SELECT strftime(?1, created_at / 1000, 'unixepoch') AS period, count(*) AS n, coalesce(sum(blocked), 0) AS blocked
       FROM scenario_records
       WHERE scenario_id = ?2 AND created_at >= ?3 AND created_at < ?4
       GROUP BY 1`,
    )
    .bind(FORMAT[range.period], scenarioId, range.start, range.end)
    .all<{ period: string; n: number; blocked: number }>();
  const byPeriod = new Map(results.map((r) => [r.period, r]));
  return range.keys.map((period) => {
    const r = byPeriod.get(period) ?? { n: 0, blocked: 0 };
    return { period, recordCount: r.n, recordCountBlocked: r.blocked, blockRate: rate(r.blocked, r.n) };
  });
}

/**
 * An activity's stats for one period: record activities done in it (by their execution time `at`), and of those the
 * ones whose e-mail was opened / clicked (by people: machine hits fire no event).
 */
export interface ActivityReportRow extends ActivityStats {
  period: string;
  /** Hits classified as machines in the period (by hit time), reported apart: they count in no rate. */
  machineOpens: number;
  machineClicks: number;
  /** Records that reached the scenario's goal in the period, attributed to this activity (its e-mail clicked last). */
  conversions: number;
}

/** One activity's report; a 404 for an unknown activity. */
export async function activityReport(e: Engine, activityId: number, range: ReportRange): Promise<ActivityReportRow[]> {
  await getActivityRow(e, activityId);
  return (await activityReports(e, [activityId], range)).get(activityId) ?? [];
}

/** The reports of many activities (a whole tree) in one D1 round trip: three grouped queries, whatever their number. */
export async function activityReports(
  e: Engine,
  activityIds: readonly number[],
  range: ReportRange,
): Promise<Map<number, ActivityReportRow[]>> {
  const reports = new Map<number, ActivityReportRow[]>();
  if (activityIds.length === 0) return reports;
  const params = [
    FORMAT[range.period],
    JSON.stringify(activityIds),
    range.start,
    range.end,
    periodKey("day", range.start),
    periodKey("day", range.end),
  ] as const;
  type Done = { activity_id: number; period: string; n: number; opened: number; clicked: number };
  type Machine = { activity_id: number; period: string; opens: number; clicks: number };
  type Converted = { activity_id: number; period: string; n: number };
  const [done, machine, converted] = await e.d1.batch<Done | Machine | Converted>([
    e.d1
      .prepare(
        // Done record activities and their opens and clicks, counted by day as the work happened (activity_days):
        // no record activity is read, and the days whose rows retention removed are counted the same way.
        `SELECT activity_id, strftime(?1, day) AS period, sum(done) AS n, sum(opened) AS opened, sum(clicked) AS clicked
         FROM activity_days
         WHERE activity_id IN (SELECT value FROM json_each(?2)) AND day >= ?5 AND day < ?6
           AND done + opened + clicked > 0
         GROUP BY 1, 2`,
      )
      .bind(...params),
    e.d1
      .prepare(
        `SELECT activity_id, period, sum(opens) AS opens, sum(clicks) AS clicks FROM (
           SELECT activity_id, strftime(?1, at / 1000, 'unixepoch') AS period,
             coalesce(sum(kind = 'open'), 0) AS opens, coalesce(sum(kind = 'click'), 0) AS clicks
           FROM hits
           WHERE activity_id IN (SELECT value FROM json_each(?2)) AND human = 0 AND kind IN ('open', 'click')
             AND at >= ?3 AND at < ?4
           GROUP BY 1, 2
           UNION ALL
           -- Machine hits of the days retention removed.
           SELECT activity_id, strftime(?1, day) AS period, machine_opens, machine_clicks FROM activity_days
           WHERE activity_id IN (SELECT value FROM json_each(?2)) AND day >= ?5 AND day < ?6
             AND machine_opens + machine_clicks > 0)
         GROUP BY 1, 2`,
      )
      .bind(...params),
    e.d1
      .prepare(
        `SELECT goal_activity_id AS activity_id, strftime(?1, goal_reached_at / 1000, 'unixepoch') AS period,
           count(*) AS n
         FROM scenario_records
         WHERE goal_activity_id IN (SELECT value FROM json_each(?2)) AND goal_reached_at >= ?3 AND goal_reached_at < ?4
         GROUP BY 1, 2`,
      )
      .bind(...params.slice(0, 4)),
  ]);
  const key = (activityId: number, period: string) => `${activityId} ${period}`;
  const doneBy = new Map(((done?.results ?? []) as Done[]).map((r) => [key(r.activity_id, r.period), r]));
  const machineBy = new Map(((machine?.results ?? []) as Machine[]).map((r) => [key(r.activity_id, r.period), r]));
  const convertedBy = new Map(
    ((converted?.results ?? []) as Converted[]).map((r) => [key(r.activity_id, r.period), r.n]),
  );
  for (const id of activityIds) {
    reports.set(
      id,
      range.keys.map((period) => {
        const d = doneBy.get(key(id, period)) ?? { n: 0, opened: 0, clicked: 0 };
        const m = machineBy.get(key(id, period)) ?? { opens: 0, clicks: 0 };
        return {
          period,
          recordCount: d.n,
          emailOpened: d.opened,
          emailClicked: d.clicked,
          emailOpenRate: rate(d.opened, d.n),
          emailClickRate: rate(d.clicked, d.n),
          emailClickThroughRate: rate(d.clicked, d.opened),
          machineOpens: m.opens,
          machineClicks: m.clicks,
          conversions: convertedBy.get(key(id, period)) ?? 0,
        };
      }),
    );
  }
  return reports;
}

/** The first and last day the range covers, both inclusive (`YYYY-MM-DD`). */
export function rangeDates(range: ReportRange): { from: string; to: string } {
  return { from: periodKey("day", range.start), to: periodKey("day", range.end - 86_400_000) };
}
