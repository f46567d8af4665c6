import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildScenario, recordActivities, sendEmail } from "../engine/fixtures";
import { ok } from "../helpers";

/** The upgrade to reports read from activity_days (migration 0015), applied to data written before it. */

const migrations = (env as unknown as { TEST_MIGRATIONS: { name: string; queries: string[] }[] }).TEST_MIGRATIONS;
const UPGRADE = migrations.find((m) => m.name.startsWith("0015_"))?.name as string;
const RETAINED_DAY = "2026-01-05";

const run = (sql: string, ...params: unknown[]) =>
  env.DB.prepare(sql)
    .bind(...params)
    .run();
const rows = async (sql: string, ...params: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<Record<string, unknown>>()
  ).results;

/** The schema and data as they were before the upgrade: the done index, no `emailed`, reports read from the rows. */
async function downgrade(retained: { activityId: number }) {
  await run("DELETE FROM activity_days");
  // What retention had written for a period it removed, before the upgrade.
  await run(
    `INSERT INTO activity_days (activity_id, day, done, opened, clicked, machine_opens, machine_clicks)
     VALUES (?, ?, 4, 2, 1, 3, 0)`,
    retained.activityId,
    RETAINED_DAY,
  );
  // E-mails were `emails` rows then (first attempts moved to their record activity's row in migration 0020).
  await run(
    `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, error, body_key, body_offset, body_length, attempt, link_urls, sent_at,
       provider_message_id, answered_at, created_at)
     SELECT id, id, scenario_id, activity_id, scenario_record_id, email_to, email_from, email_subject, '', '{}',
       email_transport, email_status, email_error, email_body_key, email_body_offset, email_body_length, email_attempt,
       email_link_urls, email_sent_at, email_provider_id, email_answered_at, email_created_at
     FROM record_activities WHERE email_status IS NOT NULL`,
  );
  await run("UPDATE record_activities SET email_status = NULL WHERE email_status IS NOT NULL");
  await run("DROP INDEX record_activities_done_unemailed");
  await run("ALTER TABLE record_activities DROP COLUMN emailed");
  await run(
    `CREATE INDEX record_activities_done ON record_activities (activity_id, at, email_opened, email_clicked)
     WHERE state = 'done'`,
  );
  await run("DROP TRIGGER record_activities_count_update");
  await run(
    `CREATE TRIGGER record_activities_count_update AFTER UPDATE OF email_opened, email_clicked ON record_activities
     WHEN NEW.email_opened != OLD.email_opened OR NEW.email_clicked != OLD.email_clicked
     BEGIN
       UPDATE activities SET count_opened = count_opened + NEW.email_opened - OLD.email_opened,
         count_clicked = count_clicked + NEW.email_clicked - OLD.email_clicked
       WHERE id = NEW.activity_id;
     END`,
  );
  await run("DELETE FROM d1_migrations WHERE name = ?", UPGRADE);
}

describe("the upgrade to reports from activity_days", () => {
  it("backfills the days of the done rows in D1 beside the retained ones, marks e-mailed rows, and counts later opens", async () => {
    const parties = ["up1", "up2", "up3"];
    for (const id of parties) await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com` });
    const { scenarioId, activity } = await buildScenario(
      { name: "Upgraded", model: "party", domain: [["id", "in", parties]] },
      [
        { name: "Mail", ...sendEmail },
        { name: "Step", parent: "Mail" },
      ],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    for (let i = 0; i < 10; i++) if (!(await ok("POST", "/jobs/process")).more) break;
    const mailRas = await recordActivities(scenarioId, `&activity_id=${activity.Mail}`);
    expect(mailRas.map((r) => r.state)).toEqual(["done", "done", "done"]);
    await ok("POST", `/record-activities/${mailRas[0]?.id}/clicked`);

    await downgrade({ activityId: Number(activity.Mail) });
    await applyD1Migrations(env.DB, migrations);

    const today = new Date().toISOString().slice(0, 10);
    const days = await rows(
      "SELECT activity_id, day, done, opened, clicked, machine_opens FROM activity_days ORDER BY activity_id, day",
    );
    expect(days).toEqual([
      // The retained period's row, added to, not replaced.
      { activity_id: Number(activity.Mail), day: RETAINED_DAY, done: 4, opened: 2, clicked: 1, machine_opens: 3 },
      { activity_id: Number(activity.Mail), day: today, done: 3, opened: 1, clicked: 1, machine_opens: 0 },
      { activity_id: Number(activity.Step), day: today, done: 3, opened: 0, clicked: 0, machine_opens: 0 },
    ]);
    // Rows that sent an e-mail are marked: they leave with it, retention's index of done rows holds the others.
    const emailed = await rows(
      `SELECT activity_id, emailed, count(*) AS n FROM record_activities WHERE scenario_id = ?
       GROUP BY 1, 2 ORDER BY 1`,
      Number(scenarioId),
    );
    expect(emailed).toEqual([
      { activity_id: Number(activity.Mail), emailed: 1, n: 3 },
      { activity_id: Number(activity.Step), emailed: 0, n: 3 },
    ]);
    expect(await rows("SELECT name FROM sqlite_master WHERE name = 'record_activities_done'")).toEqual([]);

    // An open after the upgrade counts on the day its record activity finished.
    await ok("POST", `/record-activities/${mailRas[1]?.id}/opened`);
    const report = await ok("GET", `/activities/${activity.Mail}/report?from=${RETAINED_DAY}&to=${today}`);
    const items = report.items as { period: string; record_count: number; email_opened: number }[];
    expect(items.find((i) => i.period === RETAINED_DAY)).toMatchObject({ record_count: 4, email_opened: 2 });
    expect(items.find((i) => i.period === today)).toMatchObject({ record_count: 3, email_opened: 2, email_clicked: 1 });
    expect(items.reduce((n, i) => n + i.record_count, 0)).toBe(7);
  });
});
