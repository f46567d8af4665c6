import { createRoute, z } from "@hono/zod-openapi";
import type { Engine } from "../engine/ports";
import {
  type ActivityReportRow,
  activityReport,
  MAX_PERIODS,
  type ReportRange,
  rangeDates,
  reportRange,
  type ScenarioReportRow,
  scenarioReport,
} from "../engine/reports/reports";
import { retentionNoteOf } from "../engine/retention/retention";
import { idOr404, router } from "../http/router";
import { errorResponses, IdParam, json, RetentionNote } from "./schemas";

const ReportQuery = z
  .object({
    period: z
      .enum(["day", "month", "year"])
      .default("day")
      .openapi({ description: "the length of one period, in UTC", example: "day" }),
    from: z.string().optional().openapi({
      format: "date",
      description:
        "first day (UTC, inclusive), widened to its period; default: 30 days, 12 months or 5 years before `to`",
      example: "2026-11-01",
    }),
    to: z
      .string()
      .optional()
      .openapi({
        format: "date",
        description: `last day (UTC, inclusive), widened to its period; default: today. At most ${MAX_PERIODS} periods.`,
        example: "2026-11-30",
      }),
  })
  .strict();

const PeriodKey = z.string().openapi({ description: "`2026-11-27`, `2026-11` or `2026`", example: "2026-11-27" });

const report = <T extends z.ZodTypeAny>(item: T, name: string) =>
  z
    .object({
      period: z.enum(["day", "month", "year"]),
      from: z.string().openapi({ format: "date", description: "first day covered (inclusive)" }),
      to: z.string().openapi({ format: "date", description: "last day covered (inclusive)" }),
      items: z.array(item).openapi({ description: "every period of the range, in order; zeros when nothing happened" }),
      retention: RetentionNote,
    })
    .openapi(name);

const ScenarioReportItem = z
  .object({
    period: PeriodKey,
    record_count: z.number().int().openapi({ description: "scenario records created in the period" }),
    record_count_blocked: z.number().int().openapi({ description: "of those, the ones blocked now" }),
    block_rate: z.number().openapi({ description: "blocked / count, 2 decimals, 0 when count is 0" }),
  })
  .openapi("ScenarioReportItem");

const ActivityReportItem = z
  .object({
    period: PeriodKey,
    record_count: z.number().int().openapi({ description: "record activities done in the period (by `at`)" }),
    email_opened: z.number().int().openapi({ description: "of those, opened (by people)" }),
    email_clicked: z.number().int().openapi({ description: "of those, clicked (by people)" }),
    email_open_rate: z.number(),
    email_click_rate: z.number(),
    email_click_through_rate: z.number().openapi({ description: "clicked / opened" }),
    machine_opens: z.number().int().openapi({ description: "open hits classified as machines in the period" }),
    conversions: z.number().int().openapi({
      description: "records that reached the goal in the period, this activity's e-mail being the last they clicked",
    }),
    machine_clicks: z.number().int().openapi({ description: "click hits classified as machines in the period" }),
  })
  .openapi("ActivityReportItem");

const presentScenarioRow = (r: ScenarioReportRow) => ({
  period: r.period,
  record_count: r.recordCount,
  record_count_blocked: r.recordCountBlocked,
  block_rate: r.blockRate,
});

const presentActivityRow = (r: ActivityReportRow) => ({
  period: r.period,
  record_count: r.recordCount,
  email_opened: r.emailOpened,
  email_clicked: r.emailClicked,
  email_open_rate: r.emailOpenRate,
  email_click_rate: r.emailClickRate,
  email_click_through_rate: r.emailClickThroughRate,
  machine_opens: r.machineOpens,
  conversions: r.conversions,
  machine_clicks: r.machineClicks,
});

/** A report's answer: its period and range, its rows, and where rows older than the retention window are. */
const reportBody = <T>(engine: Engine, range: ReportRange, items: T[]) => ({
  period: range.period,
  ...rangeDates(range),
  items,
  retention: retentionNoteOf(engine),
});

const reportRoute = (path: string, summary: string, description: string, schema: z.ZodTypeAny) =>
  createRoute({
    method: "get",
    path,
    tags: ["Reports"],
    summary,
    description,
    request: { params: IdParam, query: ReportQuery },
    responses: {
      200: json(schema, "Counts and rates per period"),
      400: errorResponses[400],
      401: errorResponses[401],
      404: errorResponses[404],
    },
  });

export const reportsApi = router()
  .openapi(
    reportRoute(
      "/scenarios/{id}/report",
      "Records that entered the scenario per day, month or year, with how many are blocked now",
      "One row per period of the range asked (UTC), from what D1 holds; older periods are in R2 (retention).",
      report(ScenarioReportItem, "ScenarioReport"),
    ),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "scenario");
      const range = reportRange(c.req.valid("query"));
      return c.json(
        reportBody(c.get("engine"), range, (await scenarioReport(c.get("engine"), id, range)).map(presentScenarioRow)),
        200,
      );
    },
  )
  .openapi(
    reportRoute(
      "/activities/{id}/report",
      "Record activities done per day, month or year, their opens, clicks and rates, and machine hits apart",
      "Opens and clicks count people only; hits judged to be a machine's (link scanners, prefetch) are counted " +
        "apart. An e-mail without open tracking counts an open only when it is clicked (docs/email.md).",
      report(ActivityReportItem, "ActivityReport"),
    ),
    async (c) => {
      const id = idOr404(c.req.valid("param").id, "activity");
      const range = reportRange(c.req.valid("query"));
      return c.json(
        reportBody(c.get("engine"), range, (await activityReport(c.get("engine"), id, range)).map(presentActivityRow)),
        200,
      );
    },
  );
