import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { buildScenario, recordActivityOf, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "angela", name: "Angela Martin", email: "angela@example.com" },
      { id: "dwight", name: "Dwight Schrute", email: "dwight@example.com" },
    ],
  });
  await ok("PUT", "/records/sale/s-angela", { party: "angela", state: "draft", amount: 40 });
});

async function runningNow(scenarioId: string) {
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });
}

describe("update_record action", () => {
  it("sets fields on the record, so a later condition and another scenario see them", async () => {
    // Another scenario, already running, waits for sales in stage "welcomed".
    const follow = await buildScenario(
      { name: "Welcomed sales", model: "sale", domain: [["stage", "=", "welcomed"]] },
      [{ name: "Noted" }],
    );
    await runningNow(follow.scenarioId);
    expect((await ok("GET", `/scenarios/${follow.scenarioId}/records`)).items).toHaveLength(0);

    const s = await buildScenario({ name: "Tag sales", model: "sale", domain: [["id", "=", "s-angela"]] }, [
      { name: "Tag", action: "update_record", settings: { fields: { stage: "welcomed", score: 3, amount: null } } },
      { name: "If welcomed", parent: "Tag", condition: [["stage", "=", "welcomed"]] },
    ]);
    await runningNow(s.scenarioId);
    expect(await ok("POST", "/jobs/process")).toMatchObject({ done: 1 });

    const record = await ok("GET", "/records/sale/s-angela");
    expect(record.fields).toEqual({ party: "angela", state: "draft", stage: "welcomed", score: 3 });
    // The child is due now (its alarm, or the next call, runs it): its condition sees the new field.
    await vi.waitFor(async () => {
      await ok("POST", "/jobs/process");
      const child = await recordActivityOf(s.scenarioId, s.activity["If welcomed"] as string, "s-angela");
      expect(child).toMatchObject({ state: "done" });
    });
    const followed = (await ok("GET", `/scenarios/${follow.scenarioId}/records`)).items;
    expect(followed.map((r: { record_id: string }) => r.record_id)).toEqual(["s-angela"]);
  });

  it("moves the record to another party when it sets the party field", async () => {
    await ok("PUT", "/records/sale/s-move", { party: "angela", state: "draft" });
    const s = await buildScenario({ name: "Move sale", model: "sale", domain: [["id", "=", "s-move"]] }, [
      { name: "Move", action: "update_record", settings: { fields: { party: "dwight" } } },
    ]);
    await runningNow(s.scenarioId);
    await ok("POST", "/jobs/process");
    const row = await env.DB.prepare("SELECT party_id FROM records WHERE model = 'sale' AND id = 's-move'").first();
    expect(row).toEqual({ party_id: "dwight" });
  });

  it("refuses settings that set nothing, set the id or are not an object of fields, naming the field", async () => {
    const s = await ok("POST", "/scenarios", { name: "Update settings", model: "sale" });
    const create = (settings: unknown) =>
      api("POST", `/scenarios/${s.id}/activities`, { name: "U", action: "update_record", settings });
    expectError(await create(null), 400, "settings.fields");
    expectError(await create({}), 400, "settings.fields");
    expectError(await create({ fields: {} }), 400, "settings.fields: must set at least one field");
    expectError(await create({ fields: { id: "other" } }), 400, "settings.fields.id");
    expectError(await create({ fields: { a: 1 }, extra: true }), 400, "settings");
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, { name: "U", settings: { fields: { a: 1 } } }),
      400,
      "settings: only",
    );
  });
});
