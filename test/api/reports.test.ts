import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import { recordEmailEvent } from "../../src/engine/reactions/email-events";
import { blockScenarioRecord } from "../../src/engine/recipients/blocking";
import { withMailer } from "../../src/services";
import { buildScenario, recordActivityOf, ScriptedMailer, sendEmail, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const DAY1 = Date.parse("2026-11-25T09:00:00Z");
const DAY3 = Date.parse("2026-11-27T16:30:00Z");

let scenarioId: string;
let mailId: string;
let laterId: string;

async function hit(activityId: string, kind: "open" | "click", human: boolean, at: number) {
  await env.DB.prepare("INSERT INTO hits (kind, activity_id, human, reason, at) VALUES (?, ?, ?, ?, ?)")
    .bind(kind, Number(activityId), human ? 1 : 0, human ? null : "scanner_user_agent:test", at)
    .run();
}

/** Enrolls the scenario and executes what is due at `now` (fake Date), as the alarms would have. */
async function passAt(now: number) {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(now);
  const { engine } = testEngine();
  await enroll(engine, { scenarioId: Number(scenarioId) });
  await processDue(withMailer(engine, new ScriptedMailer()));
  vi.useRealTimers();
}

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "angela", name: "Angela Martin", email: "angela@example.com" },
      { id: "oscar", name: "Oscar Martinez", email: "oscar@example.com" },
      { id: "kevin", name: "Kevin Malone", email: "kevin@example.com" },
    ],
  });
  const built = await buildScenario({ name: "Reported", model: "party", domain: [["id", "in", ["angela", "oscar"]]] }, [
    { name: "Mail", ...sendEmail },
    { name: "Later", parent: "Mail", delay: "P10D" },
  ]);
  scenarioId = built.scenarioId;
  mailId = built.activity.Mail as string;
  laterId = built.activity.Later as string;
  // Running without the deferred enrollment of `run`: each pass below enrolls at its own (fake) time.
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();

  // Day 1: Angela and Oscar enter and get the e-mail; Angela clicks (which implies an open), Oscar opens.
  await passAt(DAY1);
  const { engine } = testEngine();
  const angela = await recordActivityOf(scenarioId, mailId, "angela");
  const oscar = await recordActivityOf(scenarioId, mailId, "oscar");
  await recordEmailEvent(engine, Number(angela?.id), "clicked");
  await recordEmailEvent(engine, Number(oscar?.id), "opened");
  await blockScenarioRecord(engine, Number(angela?.scenario_record_id));

  // Day 3: Kevin enters the domain and gets the e-mail.
  await ok("PATCH", `/scenarios/${scenarioId}`, { domain: [["id", "in", ["angela", "oscar", "kevin"]]] });
  await passAt(DAY3);

  // Machine hits are reported apart, by hit time; a person's hit and another activity's hit are not counted.
  await hit(mailId, "open", false, Date.parse("2026-11-26T01:00:00Z"));
  await hit(mailId, "open", false, Date.parse("2026-11-26T23:59:59.999Z"));
  await hit(mailId, "click", false, Date.parse("2026-11-27T00:00:00Z"));
  await hit(mailId, "click", true, Date.parse("2026-11-27T00:00:01Z"));
  await hit(laterId, "open", false, Date.parse("2026-11-26T12:00:00Z"));
});

afterEach(() => {
  vi.useRealTimers();
});

const zeroScenario = (period: string) => ({ period, record_count: 0, record_count_blocked: 0, block_rate: 0 });
const zeroActivity = (period: string) => ({
  period,
  record_count: 0,
  email_opened: 0,
  email_clicked: 0,
  email_open_rate: 0,
  email_click_rate: 0,
  email_click_through_rate: 0,
  machine_opens: 0,
  machine_clicks: 0,
  conversions: 0,
});

describe("GET /api/scenarios/{id}/report", () => {
  it("counts records entered per day, with the ones blocked now, and zeros for quiet days", async () => {
    const res = await api("GET", `/scenarios/${scenarioId}/report?from=2026-11-24&to=2026-11-28`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      period: "day",
      from: "2026-11-24",
      to: "2026-11-28",
      items: [
        zeroScenario("2026-11-24"),
        { period: "2026-11-25", record_count: 2, record_count_blocked: 1, block_rate: 0.5 },
        zeroScenario("2026-11-26"),
        { period: "2026-11-27", record_count: 1, record_count_blocked: 0, block_rate: 0 },
        zeroScenario("2026-11-28"),
      ],
    });
  });

  it("groups by month and year, widening from and to to whole periods", async () => {
    const months = await api("GET", `/scenarios/${scenarioId}/report?period=month&from=2026-10-15&to=2026-12`);
    expect(months.body).toEqual({
      period: "month",
      from: "2026-10-01",
      to: "2026-12-31",
      items: [
        zeroScenario("2026-10"),
        { period: "2026-11", record_count: 3, record_count_blocked: 1, block_rate: 0.33 },
        zeroScenario("2026-12"),
      ],
    });
    const years = await api("GET", `/scenarios/${scenarioId}/report?period=year&from=2026&to=2027-02-01`);
    expect(years.body.items).toEqual([
      { period: "2026", record_count: 3, record_count_blocked: 1, block_rate: 0.33 },
      zeroScenario("2027"),
    ]);
    expect(years.body).toMatchObject({ from: "2026-01-01", to: "2027-12-31" });
  });

  it("defaults to the last 30 days, 12 months or 5 years up to today", async () => {
    const today = new Date().toISOString().slice(0, 10);
    const days = await api("GET", `/scenarios/${scenarioId}/report`);
    expect(days.status).toBe(200);
    expect(days.body.period).toBe("day");
    expect(days.body.items).toHaveLength(30);
    expect(days.body.to).toBe(today);
    expect(days.body.items.at(-1).period).toBe(today);
    const months = await api("GET", `/scenarios/${scenarioId}/report?period=month`);
    expect(months.body.items).toHaveLength(12);
    expect(months.body.items.at(-1).period).toBe(today.slice(0, 7));
    const years = await api("GET", `/scenarios/${scenarioId}/report?period=year`);
    expect(years.body.items.map((i: { period: string }) => i.period)).toHaveLength(5);
    // Only `from`: up to today.
    const since = await api("GET", `/scenarios/${scenarioId}/report?period=year&from=2025`);
    expect(since.body.items[0].period).toBe("2025");
    expect(since.body.items.at(-1).period).toBe(today.slice(0, 4));
  });
});

describe("GET /api/activities/{id}/report", () => {
  it("counts record activities done per day (by at), their opens and clicks, rates, and machine hits apart", async () => {
    const res = await api("GET", `/activities/${mailId}/report?from=2026-11-25&to=2026-11-27`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({
      period: "day",
      from: "2026-11-25",
      to: "2026-11-27",
      items: [
        {
          period: "2026-11-25",
          record_count: 2,
          email_opened: 2,
          email_clicked: 1,
          email_open_rate: 1,
          email_click_rate: 0.5,
          email_click_through_rate: 0.5,
          machine_opens: 0,
          machine_clicks: 0,
          conversions: 0,
        },
        { ...zeroActivity("2026-11-26"), machine_opens: 2 },
        { ...zeroActivity("2026-11-27"), record_count: 1, machine_clicks: 1 },
      ],
    });
  });

  it("matches the activity's own stats over a range that holds everything", async () => {
    const activity = await ok("GET", `/activities/${mailId}`);
    const report = await ok("GET", `/activities/${mailId}/report?period=year&from=2026&to=2026`);
    expect(report.items).toHaveLength(1);
    expect(report.items[0]).toMatchObject({
      record_count: activity.record_count,
      email_opened: activity.email_opened,
      email_clicked: activity.email_clicked,
      email_open_rate: activity.email_open_rate,
      email_click_rate: activity.email_click_rate,
      email_click_through_rate: activity.email_click_through_rate,
    });
  });

  it("counts only done record activities: a waiting child reports nothing but its machine hits", async () => {
    const res = await ok("GET", `/activities/${laterId}/report?from=2026-11-26&to=2026-11-26`);
    expect(res.items).toEqual([{ ...zeroActivity("2026-11-26"), machine_opens: 1 }]);
  });
});

describe("report input", () => {
  it("refuses a bad period or date with 400 naming the field", async () => {
    const base = `/scenarios/${scenarioId}/report`;
    expectError(await api("GET", `${base}?period=week`), 400, "period");
    expectError(await api("GET", `${base}?from=2026-02-30`), 400, "from", "2026-02-30");
    expectError(await api("GET", `${base}?from=yesterday`), 400, "from");
    expectError(await api("GET", `${base}?to=2026-13-01`), 400, "to:");
    expectError(await api("GET", `${base}?to=2026-11-27T00:00:00Z`), 400, "to:");
    expectError(await api("GET", `/activities/${mailId}/report?from=1969-12-31`), 400, "from");
  });

  it("refuses from after to", async () => {
    const res = await api("GET", `/scenarios/${scenarioId}/report?from=2026-11-28&to=2026-11-27`);
    expectError(res, 400, "from: 2026-11-28 is after to (2026-11-27)");
    // Widened to months, the same dates are one period: fine.
    expect(
      (await api("GET", `/scenarios/${scenarioId}/report?period=month&from=2026-11-28&to=2026-11-27`)).status,
    ).toBe(200);
  });

  it("refuses more than 1,000 periods", async () => {
    const res = await api("GET", `/activities/${mailId}/report?from=2020-01-01&to=2026-01-01`);
    expectError(res, 400, "from", "2193 days", "1000");
    expect((await api("GET", `/activities/${mailId}/report?period=month&from=2020-01&to=2026-01`)).status).toBe(200);
  });

  it("answers 404 for an unknown scenario or activity", async () => {
    expectError(await api("GET", "/scenarios/999999/report"), 404, "scenario 999999 not found");
    expectError(await api("GET", "/activities/999999/report"), 404, "activity 999999 not found");
    expectError(await api("GET", "/scenarios/abc/report"), 404);
  });

  it("refuses calls without the token", async () => {
    expectError(await api("GET", `/scenarios/${scenarioId}/report`, undefined, { token: null }), 401);
    expectError(await api("GET", `/activities/${mailId}/report`, undefined, { token: "wrong" }), 401);
  });

  it("is described in the OpenAPI document", async () => {
    const doc = await ok("GET", "/openapi.json");
    for (const path of ["/api/scenarios/{id}/report", "/api/activities/{id}/report"]) {
      const op = doc.paths[path]?.get;
      expect(op, path).toBeDefined();
      expect(op.parameters.map((p: { name: string }) => p.name)).toEqual(
        expect.arrayContaining(["id", "period", "from", "to"]),
      );
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "404"]));
    }
    expect(doc.components.schemas.ActivityReportItem.properties).toHaveProperty("machine_clicks");
  });
});
