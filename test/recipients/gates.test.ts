import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import { checkRecipient } from "../../src/engine/execution/gates/recipient";
import { nextOpening } from "../../src/recipients/window";
import { withMailer } from "../../src/services";
import { buildScenario, recordActivities, ScriptedMailer, sendEmail, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const DAY = 86_400_000;
const weekdays = { start: "09:00", end: "18:00", days: ["mon", "tue", "wed", "thu", "fri"] };

async function party(id: string, fields: Record<string, unknown> = {}) {
  await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com`, ...fields });
}

/** A running scenario over the given parties, enrolled; the deferred enrollment (and alarms) of `run` bypassed. */
async function running(name: string, ids: string[], activities: Record<string, unknown>[], extra = {}) {
  const built = await buildScenario(
    { name, model: "party", domain: [["id", "in", ids]], ...extra },
    activities.map((a, i) => ({ name: `${name} ${i + 1}`, ...sendEmail, ...a })),
  );
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  return built;
}

async function drain(mailer: ScriptedMailer) {
  const { engine } = testEngine();
  let total = 0;
  for (;;) {
    const r = await processDue(withMailer(engine, mailer));
    total += r.claimed;
    if (!r.more) return total;
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("send windows in execution", () => {
  it("defers 23:00 on a Friday in Paris to 09:00 on Monday, after the end of summer time", async () => {
    await party("amelie", { tz: "Europe/Paris" });
    const s = await ok("POST", "/scenarios", {
      name: "Paris",
      model: "party",
      domain: [],
      send_window: weekdays,
      time_zone: "America/New_York",
    });
    const job = {
      id: 1,
      scenarioId: Number(s.id),
      action: "send_email",
      activitySendWindow: null,
      party: { id: "amelie", fields: { tz: "Europe/Paris" } },
    };
    const friday23 = Date.parse("2026-10-23T21:00:00Z");
    const out = await checkRecipient(env.DB, [job], friday23);
    expect(out.get(1)).toEqual({
      status: "deferred",
      until: Date.parse("2026-10-26T08:00:00Z"),
      reason: "outside the send window 09:00–18:00 mon tue wed thu fri (Europe/Paris): deferred to its next opening",
    });
    // Without a tz of its own, the party gets the scenario's default zone: Friday 17:00 in New York, inside.
    const noTz = await checkRecipient(env.DB, [{ ...job, party: { id: "amelie", fields: {} } }], friday23);
    expect(noTz.get(1)).toBeUndefined();
    // An activity's own window overrides the scenario's.
    const late = JSON.stringify({ start: "08:00", end: "23:30" });
    expect((await checkRecipient(env.DB, [{ ...job, activitySendWindow: late }], friday23)).get(1)).toBeUndefined();
  });

  it("puts an e-mail due outside the window back to waiting at the next opening, with the reason, not an attempt", async () => {
    const today = new Date().getUTCDay(); // 0 = Sunday
    const names = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    const window = { start: "09:00", end: "18:00", days: [names[(today + 3) % 7] as string] };
    await party("bruno", { tz: "UTC" });
    const { scenarioId } = await running("Windowed", ["bruno"], [{}], { send_window: window });
    const mailer = new ScriptedMailer();
    const before = Date.now();
    await drain(mailer);
    expect(mailer.jobs).toHaveLength(0);
    const [ra] = await recordActivities(scenarioId);
    expect(ra?.state).toBe("waiting");
    expect(ra?.attempts).toBe(0);
    expect(ra?.reason).toContain("outside the send window 09:00–18:00");
    expect(Date.parse(ra?.at as string)).toBe(nextOpening(before, "UTC", window as never));
    // At the opening (the row made due, the window lifted as time would), it goes out.
    await ok("PATCH", `/scenarios/${scenarioId}`, { send_window: null });
    await env.DB.prepare("UPDATE record_activities SET at = ? WHERE scenario_id = ?")
      .bind(Date.now(), Number(scenarioId))
      .run();
    await drain(mailer);
    expect(mailer.jobs).toHaveLength(1);
    expect((await recordActivities(scenarioId))[0]?.state).toBe("done");
  });

  it("rejects a bad window or time zone when saved, naming the field", async () => {
    const s = await ok("POST", "/scenarios", { name: "Bad", model: "party", domain: [] });
    expectError(
      await api("PATCH", `/scenarios/${s.id}`, { time_zone: "Europe/Pariss" }),
      400,
      "time_zone:",
      "Europe/Pariss",
    );
    expectError(
      await api("PATCH", `/scenarios/${s.id}`, { send_window: { start: "25:00", end: "26:00" } }),
      400,
      "send_window.start",
    );
    expectError(
      await api("PATCH", `/scenarios/${s.id}`, { frequency_cap: { max: 0, period: "P1D" } }),
      400,
      "frequency_cap.max",
    );
    expectError(
      await api("PATCH", `/scenarios/${s.id}`, { frequency_cap: { max: 2, period: "P1M" } }),
      400,
      "frequency_cap.period",
    );
    const a = await ok("POST", `/scenarios/${s.id}/activities`, { name: "A", ...sendEmail });
    expectError(
      await api("PATCH", `/activities/${a.id}`, { send_window: { start: "10:00", end: "09:00" } }),
      400,
      "send_window.end",
    );
    expectError(
      await api("PATCH", "/settings", { frequency_cap: { max: 2, period: "soon" } }),
      400,
      "frequency_cap.period",
    );
  });
});

describe("frequency caps", () => {
  it("a cap of 2 a day across two scenarios defers the third e-mail and sends it the next day", async () => {
    expect((await ok("PATCH", "/settings", { frequency_cap: { max: 2, period: "P1D" } })).frequency_cap).toEqual({
      max: 2,
      period: "P1D",
    });
    await party("carla");
    const a = await running("Cap A", ["carla"], [{}, {}]);
    const b = await running("Cap B", ["carla"], [{}]);
    const mailer = new ScriptedMailer();
    const before = Date.now();
    await drain(mailer);
    expect(mailer.sentTo("carla")).toHaveLength(2);
    const all = [...(await recordActivities(a.scenarioId)), ...(await recordActivities(b.scenarioId))];
    const deferred = all.filter((r) => r.state === "waiting");
    expect(all.filter((r) => r.state === "done")).toHaveLength(2);
    expect(deferred).toHaveLength(1);
    expect(deferred[0]?.reason).toBe(
      "frequency cap reached (2 e-mails per P1D across scenarios): deferred until it allows",
    );
    expect(deferred[0]?.attempts).toBe(0);
    const at = Date.parse(deferred[0]?.at as string);
    expect(at).toBeGreaterThanOrEqual(before + DAY);
    expect(at).toBeLessThan(Date.now() + DAY + 1000);

    // Later the same day: still over the cap (the row made due by hand), deferred again.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(before + DAY / 2);
    await env.DB.prepare("UPDATE record_activities SET at = ? WHERE id = ?")
      .bind(Date.now(), Number(deferred[0]?.id))
      .run();
    await drain(mailer);
    expect(mailer.sentTo("carla")).toHaveLength(2);

    // The next day, when it is due again: it goes out.
    vi.setSystemTime(Date.now() + DAY);
    await drain(mailer);
    expect(mailer.sentTo("carla")).toHaveLength(3);
    vi.useRealTimers();
    await ok("PATCH", "/settings", { frequency_cap: null });
  });

  it("a scenario's own cap counts only its e-mails", async () => {
    await party("dora");
    const a = await running("Own cap", ["dora"], [{}, {}], { frequency_cap: { max: 1, period: "PT12H" } });
    const b = await running("No cap", ["dora"], [{}, {}]);
    const mailer = new ScriptedMailer();
    await drain(mailer);
    expect(mailer.sentTo("dora")).toHaveLength(3);
    const waiting = (await recordActivities(a.scenarioId)).filter((r) => r.state === "waiting");
    expect(waiting).toHaveLength(1);
    expect(waiting[0]?.reason).toContain("1 e-mail per PT12H in this scenario");
    expect((await recordActivities(b.scenarioId)).every((r) => r.state === "done")).toBe(true);
  });

  it("holds when two shards claim the same recipient's e-mails at once", async () => {
    await ok("PATCH", "/settings", { frequency_cap: { max: 1, period: "P1D" } });
    await party("eve");
    const scenarios = [];
    for (let i = 0; i < 6; i++) scenarios.push(await running(`Shard ${i}`, ["eve"], [{}]));
    const { results } = await env.DB.prepare(
      "SELECT DISTINCT shard FROM record_activities WHERE scenario_id IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(scenarios.map((s) => Number(s.scenarioId))))
      .all<{ shard: number }>();
    expect(results.length).toBeGreaterThan(1);
    const mailer = new ScriptedMailer();
    const { engine } = testEngine();
    await Promise.all(results.map(({ shard }) => processDue(withMailer(engine, mailer), { shard })));
    expect(mailer.sentTo("eve")).toHaveLength(1);
    await ok("PATCH", "/settings", { frequency_cap: null });
  });
});

describe("topics in execution", () => {
  it("cancels a claimed e-mail of a scenario whose topic the party opted out of, and sends the other", async () => {
    await ok("PUT", "/topics/promos", { name: "Promotions" });
    await party("fred");
    const tagged = await running("Promos", ["fred"], [{}], { topics: ["promos"] });
    const other = await running("Receipts", ["fred"], [{}]);
    // Opted out behind the API's back (as if between the claim and the send): the gate still catches it.
    await env.DB.prepare(
      "INSERT INTO topic_opt_outs (party_id, topic_id, created_at) VALUES ('fred', 'promos', 0)",
    ).run();
    const mailer = new ScriptedMailer();
    await drain(mailer);
    expect(mailer.sentTo("fred").map((j) => j.scenario.name)).toEqual(["Receipts"]);
    const [ra] = await recordActivities(tagged.scenarioId);
    expect([ra?.state, ra?.reason]).toEqual(["cancelled", 'the recipient opted out of the topic "Promotions"']);
    expect((await recordActivities(other.scenarioId))[0]?.state).toBe("done");
  });
});
