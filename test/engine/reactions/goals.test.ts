import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { withMailer } from "../../../src/services";
import { api, expectError, ok } from "../../helpers";
import { buildScenario, recordActivityOf, ScriptedMailer, sendEmail, testEngine } from "../fixtures";

const DAY = 86_400_000;

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "stanley", name: "Stanley Hudson", email: "stanley@example.com" },
      { id: "phyllis", name: "Phyllis Vance", email: "phyllis@example.com" },
    ],
  });
  await ok("POST", "/records/sale/batch", {
    records: [
      { id: "g-1", party: "stanley", state: "quotation" },
      { id: "g-2", party: "phyllis", state: "quotation" },
    ],
  });
});

afterEach(() => {
  vi.useRealTimers();
});

async function scenarioRecord(scenarioId: string, recordId: string) {
  const items = (await ok("GET", `/scenarios/${scenarioId}/records`)).items as Record<string, unknown>[];
  return items.find((r) => r.record_id === recordId);
}

describe("goals", () => {
  it("a record that reaches the goal leaves the scenario, converted to the last e-mail it clicked", async () => {
    const s = await buildScenario(
      { name: "Close the sale", model: "sale", domain: [["id", "in", ["g-1", "g-2"]]], goal: [["state", "=", "done"]] },
      [
        { name: "Offer", ...sendEmail },
        { name: "Reminder", parent: "Offer", delay: "P2D", ...sendEmail },
      ],
    );
    expect(await ok("GET", `/scenarios/${s.scenarioId}`)).toMatchObject({ goal: [["state", "=", "done"]] });
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(s.scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(s.scenarioId) });
    await processDue(withMailer(engine, new ScriptedMailer()));
    const offer = await recordActivityOf(s.scenarioId, s.activity.Offer as string, "g-1");
    await ok("POST", `/record-activities/${offer?.id}/clicked`);

    await ok("PUT", "/records/sale/g-1", { party: "stanley", state: "done" });
    await vi.waitFor(async () => expect((await scenarioRecord(s.scenarioId, "g-1"))?.goal_reached_at).toBeTruthy());
    const converted = await scenarioRecord(s.scenarioId, "g-1");
    expect(converted).toMatchObject({ goal_activity_id: s.activity.Offer });
    expect(await recordActivityOf(s.scenarioId, s.activity.Reminder as string, "g-1")).toMatchObject({
      state: "cancelled",
      reason: "goal reached",
    });
    // The other record still waits for its reminder.
    expect(await recordActivityOf(s.scenarioId, s.activity.Reminder as string, "g-2")).toMatchObject({
      state: "waiting",
    });
    expect(await ok("GET", `/activities/${s.activity.Offer}`)).toMatchObject({ conversions: 1 });
    const report = await ok("GET", `/activities/${s.activity.Offer}/report?period=day`);
    expect(report.items.reduce((n: number, r: { conversions: number }) => n + r.conversions, 0)).toBe(1);

    // Written again: nothing changes (the conversion keeps its time and activity).
    await ok("PUT", "/records/sale/g-1", { party: "stanley", state: "done", note: "again" });
    await new Promise((r) => setTimeout(r, 200));
    expect(await scenarioRecord(s.scenarioId, "g-1")).toEqual(converted);

    // Reached without the API seeing it (written around it): the goal gate cancels the work when it comes due.
    await env.DB.prepare(
      "UPDATE records SET fields = json_set(fields, '$.state', 'done') WHERE model = 'sale' AND id = 'g-2'",
    ).run();
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2 * DAY + 60_000);
    const mailer = new ScriptedMailer();
    expect(await processDue(withMailer(engine, mailer))).toMatchObject({ claimed: 1, cancelled: 1 });
    expect(mailer.jobs).toHaveLength(0);
    expect(await recordActivityOf(s.scenarioId, s.activity.Reminder as string, "g-2")).toMatchObject({
      state: "cancelled",
      reason: "goal reached",
    });
    expect(await scenarioRecord(s.scenarioId, "g-2")).toMatchObject({ goal_activity_id: null });
    expect((await scenarioRecord(s.scenarioId, "g-2"))?.goal_reached_at).toBeTruthy();
  });

  it("refuses a goal that is not a domain, naming the field", async () => {
    expectError(
      await api("POST", "/scenarios", { name: "Bad goal", model: "sale", goal: [["state", "==", "done"]] }),
      400,
      "goal[0]",
    );
    const s = await ok("POST", "/scenarios", { name: "Goal later", model: "sale" });
    expectError(await api("PATCH", `/scenarios/${s.id}`, { goal: [["state"]] }), 400, "goal");
    expect(await ok("PATCH", `/scenarios/${s.id}`, { goal: [["state", "=", "done"]] })).toMatchObject({
      goal: [["state", "=", "done"]],
    });
    expect(await ok("PATCH", `/scenarios/${s.id}`, { goal: null })).toMatchObject({ goal: null });
  });
});
