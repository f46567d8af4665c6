import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { meteredD1 } from "../../../src/bench/meter";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { claim } from "../../../src/engine/execution/claim";
import { commitClaim } from "../../../src/engine/execution/commit";
import { CLAIM_TIMEOUT_MS, processDue } from "../../../src/engine/execution/execute";
import { recordEmailEvent } from "../../../src/engine/reactions/email-events";
import type { Bindings } from "../../../src/env";
import { buildServices, withMailer } from "../../../src/services";
import { ok } from "../../helpers";
import { buildScenario, recordActivityOf, ScriptedMailer, sendEmail, sent, testEngine } from "../fixtures";

const DAY1 = Date.parse("2026-09-14T22:30:00Z");
const DAY2 = Date.parse("2026-09-15T08:00:00Z");

afterEach(() => {
  vi.useRealTimers();
});

/** A running scenario over `ids` (new parties) with the given activities, enrolled at `now`. */
async function scenarioOver(name: string, ids: string[], activities: Parameters<typeof buildScenario>[1], now: number) {
  await ok("POST", "/records/party/batch", {
    records: ids.map((id) => ({ id, name: id, email: `${id}@example.com`, cohort: name })),
  });
  const built = await buildScenario({ name, model: "party", domain: [["cohort", "=", name]] }, activities);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(now);
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  vi.useRealTimers();
  return built;
}

const daysOf = async (activityId: string) =>
  (
    await env.DB.prepare("SELECT day, done, opened, clicked FROM activity_days WHERE activity_id = ? ORDER BY day")
      .bind(Number(activityId))
      .all()
  ).results;

/** What reports used to count from the rows: done record activities by the day of `at`, with their flags. */
const truthOf = async (activityId: string) =>
  (
    await env.DB.prepare(
      `SELECT strftime('%Y-%m-%d', at / 1000, 'unixepoch') AS day, count(*) AS done, sum(email_opened) AS opened,
         sum(email_clicked) AS clicked
       FROM record_activities WHERE activity_id = ? AND state = 'done' GROUP BY 1 ORDER BY 1`,
    )
      .bind(Number(activityId))
      .all()
  ).results;

describe("activity reports count by day as the work happens", () => {
  it("a send counts its done record activities on the day they finished, with an open made while sending and one made later", async () => {
    const { scenarioId, activity } = await scenarioOver(
      "Days",
      ["dy1", "dy2", "dy3"],
      [{ name: "Mail", ...sendEmail }],
      DAY1,
    );
    const { engine } = testEngine();
    // dy1 opens while its e-mail is being sent (its record activity is still running).
    const mailer = new ScriptedMailer(async (job) => {
      if (job.record.id === "dy1") await recordEmailEvent(engine, job.recordActivityId, "opened");
      return sent();
    });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(DAY1);
    expect((await processDue(withMailer(engine, mailer))).done).toBe(3);
    // The next day dy2 clicks: counted on the day its record activity finished, as reports count it.
    vi.setSystemTime(DAY2);
    const dy2 = await recordActivityOf(scenarioId, activity.Mail as string, "dy2");
    await recordEmailEvent(engine, Number(dy2?.id), "clicked");
    await recordEmailEvent(engine, Number(dy2?.id), "clicked"); // repeated: counts nothing
    vi.useRealTimers();

    expect(await daysOf(activity.Mail as string)).toEqual([{ day: "2026-09-14", done: 3, opened: 2, clicked: 1 }]);
    expect(await daysOf(activity.Mail as string)).toEqual(await truthOf(activity.Mail as string));
    const report = await ok("GET", `/activities/${activity.Mail}/report?from=2026-09-14&to=2026-09-15`);
    expect(report.items).toEqual([
      {
        period: "2026-09-14",
        record_count: 3,
        email_opened: 2,
        email_clicked: 1,
        email_open_rate: 0.67,
        email_click_rate: 0.33,
        email_click_through_rate: 0.5,
        machine_opens: 0,
        machine_clicks: 0,
        conversions: 0,
      },
      expect.objectContaining({ period: "2026-09-15", record_count: 0, email_opened: 0, email_clicked: 0 }),
    ]);
    // The activity's own counts agree.
    expect(await ok("GET", `/activities/${activity.Mail}`)).toMatchObject({
      record_count: 3,
      email_opened: 2,
      email_clicked: 1,
    });
  });

  it("a commit that lost its claim adds nothing: the one that took the rows over counts them once", async () => {
    const { activity } = await scenarioOver("Taken over", ["to1", "to2"], [{ name: "Step" }], DAY1);
    const { engine } = testEngine();
    const first = await claim(env.DB, { claimKey: "first", now: DAY1, limit: 100, shard: undefined });
    expect(first.claimed.length).toBe(2);
    // The first Worker is presumed dead; another takes its rows over and commits them.
    const later = DAY1 + CLAIM_TIMEOUT_MS + 1;
    const second = await claim(env.DB, { claimKey: "second", now: later, limit: 100, shard: undefined });
    expect(second.claimed.map((c) => c.id).sort()).toEqual(first.claimed.map((c) => c.id).sort());
    const done = (claimed: typeof first.claimed) => claimed.map((c) => ({ id: c.id, state: "done" as const }));
    await commitClaim(engine, "second", second.claimed, done(second.claimed), later);
    // The first one comes back and commits late: its rows are no longer held by its claim.
    await commitClaim(engine, "first", first.claimed, done(first.claimed), later + 1);
    expect(await daysOf(activity.Step as string)).toEqual([{ day: "2026-09-14", done: 2, opened: 0, clicked: 0 }]);
    expect(await ok("GET", `/activities/${activity.Step}`)).toMatchObject({ record_count: 2 });
  });

  it("finishing a record activity that sent an e-mail writes its row and no index entry", async () => {
    const ids = Array.from({ length: 5 }, (_, i) => `rw${i}`);
    const { activity } = await scenarioOver("Written", ids, [{ name: "Mail", ...sendEmail }], DAY1);
    const { claimed } = await claim(env.DB, { claimKey: "metered", now: DAY1, limit: 100, shard: undefined });
    expect(claimed.length).toBe(5);
    const { db, totals } = meteredD1(env.DB);
    const engine = buildServices(env as Bindings, { d1: db, wake: async () => {} });
    const settlements = claimed.map((c, i) => ({ id: c.id, state: "done" as const, emailId: 1_000 + i }));
    await commitClaim(engine, "metered", claimed, settlements, DAY1);
    // One row written a record activity (the done index is gone), and one row for the activity's day (with its key).
    expect(totals.writtenBy["UPDATE record_activities"]).toBe(5);
    expect(totals.writtenBy["INSERT INTO activity_days"]).toBe(2);
    expect(await daysOf(activity.Mail as string)).toEqual([{ day: "2026-09-14", done: 5, opened: 0, clicked: 0 }]);
    const index = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?")
      .bind("record_activities_done")
      .all();
    expect(index.results).toEqual([]);
  });
});
