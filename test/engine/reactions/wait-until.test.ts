import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { api, expectError, ok } from "../../helpers";
import { buildScenario, recordActivityOf, testEngine } from "../fixtures";

const DAY = 86_400_000;

beforeAll(async () => {
  await ok("PUT", "/records/party/creed", { name: "Creed Bratton", email: "creed@example.com" });
  await ok("POST", "/records/sale/batch", {
    records: [
      { id: "w-1", party: "creed", state: "quotation" },
      { id: "w-2", party: "creed", state: "quotation" },
      { id: "w-3", party: "creed", state: "confirmed" },
    ],
  });
});

afterEach(() => {
  vi.useRealTimers();
});

describe("wait until the record changes, else at a deadline", () => {
  it("fires on the write that meets the condition, and the else-branch at the deadline", async () => {
    const s = await buildScenario({ name: "Confirm within 3 days", model: "sale", domain: [["id", "like", "w-%"]] }, [
      { name: "Quote" },
      { name: "Thanks", parent: "Quote", on: "record_changed", condition: [["state", "=", "confirmed"]] },
      { name: "Remind", parent: "Quote", on: "record_not_changed", delay: "P3D" },
    ]);
    const of = (activity: string, record: string) =>
      recordActivityOf(s.scenarioId, s.activity[activity] as string, record);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(s.scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(s.scenarioId) });
    await processDue(engine);

    expect(await of("Thanks", "w-1")).toMatchObject({
      state: "waiting",
      at: null,
      reason: "waiting for the record to change",
    });
    expect((await of("Remind", "w-1"))?.at).not.toBeNull();
    // Already confirmed when its parent ran: it does not wait for a write.
    expect((await of("Thanks", "w-3"))?.at).not.toBeNull();

    // A write that meets the condition fires it; its else-branch is cancelled.
    await ok("PUT", "/records/sale/w-1", { party: "creed", state: "confirmed" });
    await vi.waitFor(async () => expect((await of("Thanks", "w-1"))?.at).not.toBeNull());
    expect(await of("Remind", "w-1")).toMatchObject({ state: "cancelled", reason: "the record changed in time" });
    await vi.waitFor(async () => {
      await processDue(engine);
      expect(await of("Thanks", "w-1")).toMatchObject({ state: "done" });
    });

    // A write that does not meet it changes nothing.
    await ok("PUT", "/records/sale/w-2", { party: "creed", state: "quotation", note: "called" });
    await new Promise((r) => setTimeout(r, 200));
    expect(await of("Thanks", "w-2")).toMatchObject({ state: "waiting", at: null });

    // At the deadline the else-branch runs and the wait ends.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3 * DAY + 60_000);
    await processDue(engine);
    expect(await of("Remind", "w-2")).toMatchObject({ state: "done" });
    expect(await of("Thanks", "w-2")).toMatchObject({ state: "cancelled" });
    // Too late: a confirmation after the deadline fires nothing.
    vi.useRealTimers();
    await ok("PUT", "/records/sale/w-2", { party: "creed", state: "confirmed" });
    await new Promise((r) => setTimeout(r, 200));
    expect(await of("Thanks", "w-2")).toMatchObject({ state: "cancelled" });
  });

  it("refuses a deadline branch without a delay and a wait at the root", async () => {
    const s = await ok("POST", "/scenarios", { name: "Wait rules", model: "sale" });
    const root = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Root" });
    const create = (body: Record<string, unknown>) =>
      api("POST", `/scenarios/${s.id}/activities`, { name: "X", ...body });
    expectError(await create({ parent_id: root.id, on: "record_not_changed" }), 400, "delay: required");
    expectError(await create({ on: "record_changed" }), 400, 'on: "record_changed" needs a parent activity');
    expect(
      await ok("POST", `/scenarios/${s.id}/activities`, { name: "Wait", parent_id: root.id, on: "record_changed" }),
    ).toMatchObject({
      on: "record_changed",
    });
  });
});
