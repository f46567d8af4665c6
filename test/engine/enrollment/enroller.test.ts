import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll, enrollScenario, runningScenarios } from "../../../src/engine/enrollment/enroll";
import type { Bindings } from "../../../src/env";
import { enrollerStub } from "../../../src/scheduler/client";
import { buildServices } from "../../../src/services";
import { api, ok } from "../../helpers";
import { buildScenario, testEngine } from "../fixtures";

const bindings = env as unknown as Bindings;

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: Array.from({ length: 50 }, (_, i) => ({
      id: `en${i}`,
      name: `E${i}`,
      email: `e${i}@example.com`,
      cohort: "en",
    })),
  });
});

describe("enrollment in bounded steps", () => {
  it("a pass with a deadline stops after a chunk and resumes from where it stopped", async () => {
    const { scenarioId } = await buildScenario({ name: "Steps", model: "party", domain: [["cohort", "=", "en"]] }, [
      { name: "A" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const { engine } = testEngine();
    const [scenario] = await runningScenarios(engine, Number(scenarioId));
    const first = await enrollScenario(engine, scenario!, { chunk: 20, deadline: Date.now() - 1 });
    expect(first.next).not.toBeNull();
    expect(first.enrolled).toBeGreaterThan(0);
    expect(first.enrolled).toBeLessThan(50);
    let from = first.next as number;
    let total = first.enrolled;
    for (;;) {
      const step = await enrollScenario(engine, scenario!, { chunk: 20, from, deadline: Date.now() - 1 });
      total += step.enrolled;
      if (step.next === null) break;
      from = step.next;
    }
    expect(total).toBe(50);
    expect((await ok("GET", `/scenarios/${scenarioId}`)).record_count).toBe(50);
  });

  it("a pass reads each record about once, however small its chunks (no walk of the whole model per chunk)", async () => {
    const { engine } = testEngine();
    const pass = async (chunk: number) => {
      const { scenarioId } = await buildScenario(
        { name: `Chunks ${chunk}`, model: "party", domain: [["cohort", "=", "en"]] },
        [{ name: "A" }],
      );
      await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
      const [scenario] = await runningScenarios(engine, Number(scenarioId));
      const progress = await enrollScenario(engine, scenario!, { chunk });
      expect(progress.enrolled).toBe(50);
      return progress.rowsRead;
    };
    const whole = await pass(1_000);
    const small = await pass(5);
    expect(whole).toBeGreaterThan(0);
    expect(small).toBeLessThan(whole * 1.5);
  });

  it("a chunk enrolls nothing once its scenario has stopped, even in a pass that began while it ran", async () => {
    const { scenarioId } = await buildScenario(
      { name: "Stopped mid-pass", model: "party", domain: [["cohort", "=", "en"]] },
      [{ name: "A" }],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const { engine } = testEngine();
    const [scenario] = await runningScenarios(engine, Number(scenarioId));
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE id = ?").bind(scenarioId).run();
    const step = await enrollScenario(engine, scenario!, { chunk: 20 });
    expect(step).toMatchObject({ enrolled: 0, recordActivities: 0 });
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM scenario_records WHERE scenario_id = ?")
      .bind(scenarioId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("running a scenario starts its Enroller, whose alarms enroll every record", async () => {
    const { scenarioId } = await buildScenario({ name: "Enroller", model: "party", domain: [["cohort", "=", "en"]] }, [
      { name: "A" },
    ]);
    await ok("POST", `/scenarios/${scenarioId}/run`);
    const enroller = enrollerStub(bindings, Number(scenarioId));
    await expect.poll(() => enroller.status()).toMatchObject({ scenarioId: Number(scenarioId) });
    // Its alarms fire by themselves; firing one by hand only hurries it.
    await runDurableObjectAlarm(enroller);
    await expect.poll(async () => (await ok("GET", `/scenarios/${scenarioId}`)).record_count).toBe(50);
    await expect.poll(() => enroller.status()).toMatchObject({ cursor: null });
    expect(await ok("GET", `/scenarios/${scenarioId}/enrollment`)).toEqual({
      running: false,
      next_rowid: null,
      pass_requested: false,
    });
  });

  it("a pass ends when the scenario is no longer running, and a malformed start is refused", async () => {
    const { scenarioId } = await buildScenario(
      { name: "Stopped pass", model: "party", domain: [["cohort", "=", "en"]] },
      [{ name: "A" }],
    );
    const enroller = enrollerStub(bindings, Number(scenarioId));
    expect(await enroller.start({ scenarioId: Number(scenarioId) })).toEqual({ ok: true });
    // Delivered by hand and awaited: the alarm set by `start` may be firing by itself at the same time.
    await runInDurableObject(enroller, (instance) => instance.alarm());
    expect(await enroller.status()).toMatchObject({ cursor: null });
    expect((await ok("GET", `/scenarios/${scenarioId}/records`)).items).toHaveLength(0);
    expect(await enroller.start({ scenarioId: "x" })).toMatchObject({ ok: false });
    expect(await ok("GET", `/scenarios/${scenarioId}/enrollment`)).toMatchObject({ running: false });
    expect((await api("GET", "/scenarios/987654/enrollment")).status).toBe(404);
  });

  it("a domain that does not compile ends the pass instead of retrying it forever", async () => {
    const { scenarioId } = await buildScenario(
      { name: "Broken pass", model: "party", domain: [["cohort", "=", "en"]] },
      [{ name: "A" }],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running', domain = ? WHERE id = ?")
      .bind('[["x","~",1]]', scenarioId)
      .run();
    const enroller = enrollerStub(bindings, Number(scenarioId));
    expect(await enroller.start({ scenarioId: Number(scenarioId) })).toEqual({ ok: true });
    await runInDurableObject(enroller, (instance) => instance.alarm());
    expect(await enroller.status()).toMatchObject({ cursor: null });
    expect(await runDurableObjectAlarm(enroller)).toBe(false);
  });
});

describe("POST /api/jobs/enroll is bounded", () => {
  it("past its budget a scenario's pass goes on in its Enroller from where it stopped, and the rest start there", async () => {
    const started: { scenarioId: number; from: number | undefined }[] = [];
    const engine = buildServices(bindings, {
      wake: async () => {},
      enrollment: {
        start: async (scenarioId, from) => {
          started.push({ scenarioId, from });
        },
        status: async () => ({ scenarioId: null, cursor: null, again: false }),
      },
    });
    const a = await buildScenario({ name: "Budget A", model: "party", domain: [["cohort", "=", "en"]] }, [
      { name: "A" },
    ]);
    const b = await buildScenario({ name: "Budget B", model: "party", domain: [["cohort", "=", "en"]] }, [
      { name: "B" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id IN (?, ?)")
      .bind(a.scenarioId, b.scenarioId)
      .run();
    // Only these two run (scenarios of the tests above are stopped), the first by id first.
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE state = 'running' AND id NOT IN (?, ?)")
      .bind(a.scenarioId, b.scenarioId)
      .run();
    const result = await enroll(engine, { budgetMs: 0, chunk: 20 });
    // The first scenario makes progress (one chunk), then continues in the background; the second is handed over.
    expect(result.scenarios).toBe(2);
    expect(result.background).toEqual([a.scenarioId, b.scenarioId]);
    expect(result.enrolled).toBeGreaterThan(0);
    expect(result.enrolled).toBeLessThan(50);
    expect(started).toEqual([
      { scenarioId: Number(a.scenarioId), from: expect.any(Number) },
      { scenarioId: Number(b.scenarioId), from: undefined },
    ]);
    const first = a.scenarioId;
    const cursor = started[0]?.from as number;
    expect(cursor).toBeGreaterThan(0);
    // The Enroller continues from the given rowid and ends the pass with every record enrolled.
    const enroller = enrollerStub(bindings, Number(first));
    expect(await enroller.start({ scenarioId: Number(first), from: cursor })).toEqual({ ok: true });
    expect(await enroller.status()).toMatchObject({ cursor });
    await runInDurableObject(enroller, (instance) => instance.alarm());
    await expect.poll(async () => (await ok("GET", `/scenarios/${first}`)).record_count).toBe(50);
    expect(await enroller.start({ scenarioId: Number(first), from: -1 })).toMatchObject({ ok: false });
  });

  it("within its budget the request enrolls everything and says nothing goes on in the background", async () => {
    const { scenarioId } = await buildScenario({ name: "In budget", model: "party", domain: [["cohort", "=", "en"]] }, [
      { name: "A" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const result = await ok("POST", "/jobs/enroll");
    expect(result.background).toEqual([]);
    expect((await ok("GET", `/scenarios/${scenarioId}`)).record_count).toBe(50);
    expect((await api("POST", "/jobs/enroll", undefined, { token: null })).status).toBe(401);
  });
});
