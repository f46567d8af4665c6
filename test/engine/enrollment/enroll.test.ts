import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { api, ok } from "../../helpers";
import { buildScenario, recordActivities, testEngine } from "../fixtures";

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "michael", name: "Michael Scott", email: "michael@example.com", lang: "en" },
      { id: "dwight", name: "Dwight Schrute", email: "dwight@example.com", lang: "en" },
      { id: "jan", name: "Jan Levinson", email: "jan@example.com", lang: "fr" },
      { id: "toby", name: "Toby Flenderson", lang: "en" },
    ],
  });
});

describe("enrollment", () => {
  it("enrolls matching records once, with root record activities due at now + delay", async () => {
    const { scenarioId, activity } = await buildScenario(
      { name: "Welcome", model: "party", domain: [["email", "!=", null]] },
      [
        { name: "Now", delay: null },
        { name: "Later", delay: "P1D" },
        { name: "French only", condition: [["lang", "=", "fr"]] },
      ],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    const { engine } = testEngine();
    const before = Date.now();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    const second = await enroll(engine, { scenarioId: Number(scenarioId) });
    expect(second.enrolled).toBe(0);
    expect(second.record_activities).toBe(0);

    const srs = await ok("GET", `/scenarios/${scenarioId}/records`);
    expect(srs.items.map((r: { record_id: string }) => r.record_id).sort()).toEqual(["dwight", "jan", "michael"]);
    expect(srs.items.every((r: { blocked: boolean }) => r.blocked === false)).toBe(true);
    const ras = await recordActivities(scenarioId);
    expect(ras.filter((r) => r.activity_id === activity.Now)).toHaveLength(3);
    expect(ras.filter((r) => r.activity_id === activity["French only"])).toHaveLength(1);
    const later = ras.filter((r) => r.activity_id === activity.Later);
    expect(later).toHaveLength(3);
    for (const r of later) {
      expect(r.state).toBe("waiting");
      const due = Date.parse(r.at as string);
      expect(due - before).toBeGreaterThanOrEqual(86_400_000 - 5_000);
      expect(due - before).toBeLessThanOrEqual(86_400_000 + 60_000);
    }
    expect((await ok("GET", `/scenarios/${scenarioId}`)).record_count).toBe(3);
  });

  it("stores no unsubscribe token with a TRACKING_SECRET (it is derived), a random one without", async () => {
    const tokens = async (name: string, engine: ReturnType<typeof testEngine>["engine"]) => {
      const { scenarioId } = await buildScenario({ name, model: "party", domain: [["id", "=", "michael"]] }, [
        { name: "Now", delay: null },
      ]);
      await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
      await enroll(engine, { scenarioId: Number(scenarioId) });
      const { results } = await env.DB.prepare("SELECT token FROM scenario_records WHERE scenario_id = ?")
        .bind(Number(scenarioId))
        .all<{ token: string }>();
      return results.map((r) => r.token);
    };
    const { engine } = testEngine();
    expect(await tokens("Derived tokens", engine)).toEqual([""]);
    const noSecret = { ...engine, env: { ...engine.env, TRACKING_SECRET: "" } };
    expect(await tokens("Stored tokens", noSecret)).toEqual([expect.stringMatching(/^[0-9a-f]{32}$/)]);
  });

  it("wakes every scheduler shard at the earliest root due time", async () => {
    const { scenarioId } = await buildScenario({ name: "Wake", model: "party" }, [
      { name: "Soon", delay: "PT10S" },
      { name: "Later", delay: "P1D" },
    ]);
    // Running without the API's deferred enrollment, so this pass is the one that enrolls.
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const { engine, wakes } = testEngine();
    const before = Date.now();
    const result = await enroll(engine, { scenarioId: Number(scenarioId) });
    expect(result).toMatchObject({ scenarios: 1, enrolled: 4, record_activities: 8 });
    expect(new Set(wakes.map((w) => w.shard)).size).toBe(8);
    for (const w of wakes) expect(w.at - before).toBeGreaterThanOrEqual(10_000 - 1_000);
    for (const w of wakes) expect(w.at - before).toBeLessThan(60_000);
  });

  it("a record that left the domain and came back, or was blocked, is never enrolled again", async () => {
    const { scenarioId } = await buildScenario({ name: "Once", model: "party", domain: [["lang", "=", "en"]] }, [
      { name: "A" },
    ]);
    await ok("POST", `/scenarios/${scenarioId}/run`);
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    const before = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    await ok("PUT", "/records/party/dwight", { name: "Dwight Schrute", email: "dwight@example.com", lang: "de" });
    await enroll(engine, { scenarioId: Number(scenarioId) });
    await ok("PUT", "/records/party/dwight", { name: "Dwight Schrute", email: "dwight@example.com", lang: "en" });
    const michael = before.find((r: { record_id: string }) => r.record_id === "michael");
    await ok("POST", `/scenario-records/${michael.id}/block`);
    await enroll(engine, { scenarioId: Number(scenarioId) });
    const after = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    expect(after.map((r: { id: string }) => r.id).sort()).toEqual(before.map((r: { id: string }) => r.id).sort());
    expect((await ok("GET", `/scenarios/${scenarioId}/records?blocked=true`)).items).toHaveLength(1);
  });

  it("only running scenarios enroll, and a broken scenario is skipped while the others run", async () => {
    const draft = await buildScenario({ name: "Draft", model: "party" }, [{ name: "A" }]);
    const good = await buildScenario({ name: "Good", model: "party" }, [{ name: "A" }]);
    const broken = await buildScenario({ name: "Broken", model: "party" }, [{ name: "A" }]);
    await ok("POST", `/scenarios/${good.scenarioId}/run`);
    await ok("POST", `/scenarios/${broken.scenarioId}/run`);
    // A domain that no longer compiles (written before a rule tightened, say).
    await env.DB.prepare("UPDATE scenarios SET domain = ? WHERE id = ?").bind('[["x","~",1]]', broken.scenarioId).run();
    const { engine } = testEngine();
    const result = await enroll(engine);
    expect(result.failed).toEqual([
      { scenario_id: broken.scenarioId, error: expect.stringContaining('unknown operator "~"') },
    ]);
    expect((await ok("GET", `/scenarios/${good.scenarioId}`)).record_count).toBe(4);
    expect((await ok("GET", `/scenarios/${draft.scenarioId}/records`)).items).toHaveLength(0);
    await ok("POST", `/scenarios/${good.scenarioId}/stop`);
    await ok("PUT", "/records/party/kevin", { name: "Kevin", email: "kevin@example.com" });
    await enroll(engine);
    expect((await ok("GET", `/scenarios/${good.scenarioId}`)).record_count).toBe(4);
  });

  it("is one set-based pass: a thousand records enroll in a few statements", async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({
      id: `bulk${i}`,
      name: `B${i}`,
      email: `b${i}@example.com`,
      cohort: "bulk",
    }));
    await ok("POST", "/records/party/batch", { records });
    const { scenarioId } = await buildScenario({ name: "Bulk", model: "party", domain: [["cohort", "=", "bulk"]] }, [
      { name: "A" },
      { name: "B", delay: "PT1H" },
    ]);
    await ok("POST", `/scenarios/${scenarioId}/run`);
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    const counts = await env.DB.prepare(
      "SELECT (SELECT count(*) FROM scenario_records WHERE scenario_id = ?1) AS srs, (SELECT count(*) FROM record_activities WHERE scenario_id = ?1) AS ras",
    )
      .bind(scenarioId)
      .first();
    expect(counts).toEqual({ srs: 1000, ras: 2000 });
  });

  it("enrolls a record as soon as it is written, with no cron pass", async () => {
    const { scenarioId } = await buildScenario({ name: "Instant", model: "party", domain: [["vip", "=", true]] }, [
      { name: "A" },
    ]);
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("PUT", "/records/party/oscar", { name: "Oscar", email: "oscar@example.com", vip: true });
    let records: { record_id: string }[] = [];
    for (let i = 0; i < 50 && records.length === 0; i++) {
      records = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
      if (records.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(records.map((r) => r.record_id)).toEqual(["oscar"]);
  });

  it("POST /api/jobs/enroll runs enrollment and returns counts", async () => {
    const { scenarioId } = await buildScenario({ name: "Jobs", model: "party", domain: [["lang", "=", "fr"]] }, [
      { name: "A" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const res = await api("POST", "/jobs/enroll");
    expect(res.status).toBe(200);
    expect(res.body.enrolled).toBeGreaterThanOrEqual(1);
    expect(res.body).toHaveProperty("record_activities");
    expect(
      (await ok("GET", `/scenarios/${scenarioId}/records`)).items.map((r: { record_id: string }) => r.record_id),
    ).toEqual(["jan"]);
  });
});
