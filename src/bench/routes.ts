import { sql } from "drizzle-orm";
import { Hono } from "hono";
import { emailOfRecordActivity } from "../email/of-record-activity";
import { recordActivitiesOfScenario, statementOf } from "../engine/scenarios/scenario-range";
import { getConfig } from "../env";
import type { AppEnv } from "../http/router";
import { type RenderMode, runRenders } from "./render";
import { meteredDropTable, meteredEnrollmentCycle, meteredRetention, meteredSend, meteredTracking } from "./storage";

/**
 * Baselines for `npm run bench`, measured in the same process as the routes they are compared with. Mounted only when
 * the BENCH_ROUTES variable is "1" (the benchmark's own `wrangler dev`); everywhere else these paths are 404.
 */
export function benchRoutes() {
  const routes = new Hono<AppEnv>();
  routes.use("*", async (c, next) => {
    if (c.env.BENCH_ROUTES !== "1") return c.text("Not found", 404);
    await next();
  });
  // The floor a click redirect is compared with: the same app, a fixed 302, no lookup, no recording.
  routes.get("/redirect", (c) => c.redirect("https://example.com/landing", 302));
  // What the deliverability benchmarks poll: delivery events recorded, and delivery attempts by status.
  routes.get("/deliverability", async (c) => {
    const row = await c.env.DB.prepare(
      `SELECT (SELECT count(*) FROM delivery_events) AS events,
              (SELECT count(*) FROM email_archive) AS attempts,
              (SELECT count(*) FROM email_archive WHERE status = 'sent') AS sent,
              (SELECT count(*) FROM record_activities WHERE state = 'failed') AS failed`,
    ).first();
    return c.json(row);
  });
  // When the transport answered each attempt of a scenario's e-mails (any status): the send rate the provider saw.
  routes.get("/deliverability/calls", async (c) => {
    const scenarioId = Number(c.req.query("scenario_id"));
    if (!Number.isSafeInteger(scenarioId) || scenarioId <= 0) return c.text("scenario_id: a scenario id", 400);
    const all = recordActivitiesOfScenario({
      columns: sql`id, scenario_record_id, activity_id`,
      scenarioId,
      limit: -1,
      unordered: true,
    });
    const { results } = await statementOf(
      c.env.DB,
      // answered_at is NULL when the transport answered at sent_at (src/email/columns.ts).
      // Ordered outside the join, so SQLite flattens the view into it (src/engine/runs/emails.ts says why).
      sql`SELECT t FROM (
            SELECT coalesce(m.answered_at, m.sent_at) AS t
            FROM (${all}) r JOIN email_archive m ON ${sql.raw(emailOfRecordActivity("m", (c) => `${c} = r.id`))}
            WHERE coalesce(m.answered_at, m.sent_at) IS NOT NULL)
          ORDER BY t`,
    ).all<{ t: number }>();
    return c.json(results.map((r) => r.t));
  });
  routes.post("/render", async (c) => {
    const mode = c.req.query("mode") as RenderMode;
    const n = Math.min(10_000, Math.max(1, Number(c.req.query("n") ?? 100)));
    if (!["bare", "rewrite", "compose"].includes(mode)) return c.text("mode: bare | rewrite | compose", 400);
    return c.json({ mode, n, bytes: await runRenders(getConfig(c.env), mode, n) });
  });
  // Storage: a draft scenario run, enrolled and sent to the end here, over a metered D1 (see storage.ts).
  routes.post("/metered-send", async (c) => {
    const id = Number(c.req.query("scenario_id"));
    if (!Number.isSafeInteger(id) || id <= 0) return c.text("scenario_id: a scenario id", 400);
    return c.json(await meteredSend(c.env, id));
  });
  // A person's opens and clicks on a sent scenario's e-mails, each hit flushed alone: rows written (see storage.ts).
  routes.post("/metered-tracking", async (c) => {
    const id = Number(c.req.query("scenario_id"));
    const opens = Number(c.req.query("opens") ?? 100);
    const clicks = Number(c.req.query("clicks") ?? 15);
    const offset = Number(c.req.query("offset") ?? 0);
    if (!Number.isSafeInteger(id) || id <= 0) return c.text("scenario_id: a scenario id", 400);
    if (![opens, clicks].every((n) => Number.isInteger(n) && n >= 0 && n <= 100)) {
      return c.text("opens, clicks: whole numbers from 0 to 100", 400);
    }
    if (!Number.isInteger(offset) || offset < 0) return c.text("offset: a whole number, at least 0", 400);
    return c.json(await meteredTracking(c.env, id, { opens, clicks, offset }));
  });
  // One enrollment cycle as the cron decides it at `at` (epoch ms, default now), passes included.
  routes.post("/metered-enrollment-cycle", async (c) => {
    const at = Number(c.req.query("at") ?? Date.now());
    const force = c.req.query("full_pass_of");
    if (!Number.isFinite(at)) return c.text("at: epoch milliseconds", 400);
    return c.json(await meteredEnrollmentCycle(c.env, at, force ? Number(force) : null));
  });
  // Retention a window after everything sent so far: rows written by its steps (see storage.ts).
  routes.post("/metered-retention", async (c) => {
    const days = Number(c.req.query("days") ?? 30);
    if (!Number.isInteger(days) || days < 1) return c.text("days: a whole number of days, at least 1", 400);
    return c.json(await meteredRetention(c.env, days));
  });
  // DELETE of every row against DROP TABLE, each on a table of `rows` rows.
  routes.post("/metered-drop-table", async (c) => {
    const rows = Number(c.req.query("rows") ?? 10_000);
    if (!Number.isInteger(rows) || rows < 1 || rows > 1_000_000) return c.text("rows: 1 to 1,000,000", 400);
    return c.json(await meteredDropTable(c.env, rows));
  });
  return routes;
}
