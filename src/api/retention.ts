import { createRoute, z } from "@hono/zod-openapi";
import { DAY_MS, RETAINED_LOCATION, retainedDay } from "../engine/retention/retention";
import { getConfig } from "../env";
import { router } from "../http/router";
import { iso } from "../ids";
import { errorResponses, json, Timestamp } from "./schemas";

const RetentionOut = z
  .object({
    retention_days: z.number().int().nullable().openapi({
      description:
        "days finished record activities, e-mails and their hits stay in D1 (RETENTION_DAYS); null keeps everything in D1",
    }),
    retained_before: Timestamp.nullable().openapi({
      description:
        "e-mails created and record activities finished before this are no longer in D1 (GET /api/emails, the record " +
        "activities, reports, the timeline) but in R2; null when retention is off",
    }),
    location: z.string().openapi({ example: "R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/" }),
  })
  .openapi("Retention");

const RetainedObject = z.object({
  key: z.string().openapi({ example: "emails/retained/2026-01-31/1-500.ndjson" }),
  size: z.number().int(),
  emails: z.number().int(),
  hits: z.number().int(),
  links: z.number().int(),
  record_activities: z.number().int(),
});

const RetainedDayOut = z
  .object({
    day: z.string().openapi({ example: "2026-01-31" }),
    objects: z.array(RetainedObject).openapi({
      description:
        "the day's export in the EMAIL_BODIES bucket: NDJSON, one line {table, row} per e-mail, hit, link and " +
        "record activity row (the row as D1 held it); e-mails by the day they were created, record activities by the " +
        "day they finished",
    }),
  })
  .openapi("RetainedDay");

const DayParam = z.object({
  day: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, { error: "day: must be a date, YYYY-MM-DD" })
    .openapi({ param: { name: "day", in: "path" }, example: "2026-01-31" }),
});

export const retentionApi = router()
  .openapi(
    createRoute({
      method: "get",
      path: "/retention",
      tags: ["E-mails"],
      summary: "How long e-mails and finished record activities stay in D1, and where older ones are",
      description: "RETENTION_DAYS and where the rows older than it were exported (R2), by day.",
      responses: { 200: json(RetentionOut, "The retention window"), 401: errorResponses[401] },
    }),
    async (c) => {
      const days = getConfig(c.env).retentionDays;
      return c.json(
        {
          retention_days: days,
          retained_before: days === null ? null : iso(Date.now() - days * DAY_MS),
          location: RETAINED_LOCATION,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/retention/{day}",
      tags: ["E-mails"],
      summary: "Where the e-mails and record activities of one day (UTC) that left D1 were exported",
      description:
        "The R2 objects that hold one day's exported e-mails and record activities; 400 for a malformed day.",
      request: { params: DayParam },
      responses: { 200: json(RetainedDayOut, "The day's export"), 400: errorResponses[400], 401: errorResponses[401] },
    }),
    async (c) => {
      const { day } = c.req.valid("param");
      return c.json({ day, objects: await retainedDay(c.get("engine"), day) }, 200);
    },
  );
