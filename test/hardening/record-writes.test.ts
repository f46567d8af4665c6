import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { MAX_FIELDS_BYTES } from "../../src/engine/records/records";
import { buildScenario, recordActivityOf, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

async function runningNow(scenarioId: string) {
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });
}

describe("update_record keeps records within the record limits", () => {
  it("a patch that would take a record past the size limit fails that record activity once, with the reason", async () => {
    const note = "n".repeat(MAX_FIELDS_BYTES - 1_000);
    await ok("PUT", "/records/party/grown", { name: "Grown", note });
    const patch = { extra: "x".repeat(20_000) };
    const s = await buildScenario({ name: "Grow", model: "party", domain: [["id", "=", "grown"]] }, [
      { name: "Grow", action: "update_record", settings: { fields: patch } },
    ]);
    await runningNow(s.scenarioId);
    await ok("POST", "/jobs/process");
    const ra = await recordActivityOf(s.scenarioId, s.activity.Grow as string, "grown");
    expect(ra).toMatchObject({ state: "failed" });
    expect(JSON.stringify(ra)).toContain(`more than the limit of ${MAX_FIELDS_BYTES}`);
    // Never retried, and the record is as it was.
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(s.scenarioId, s.activity.Grow as string, "grown")).toMatchObject({ state: "failed" });
    expect((await ok("GET", "/records/party/grown")).fields).toEqual({ name: "Grown", note });
  });

  it("refuses __proto__, nesting past the limit and a patch over the size limit at save, naming the field", async () => {
    const s = await ok("POST", "/scenarios", { name: "Update shapes", model: "party" });
    const create = (fields: string) =>
      api("POST", `/scenarios/${s.id}/activities`, {
        name: "U",
        action: "update_record",
        settings: JSON.parse(`{"fields": ${fields}}`),
      });
    const body = (fields: string) => `{"name": "U", "action": "update_record", "settings": {"fields": ${fields}}}`;
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, body('{"__proto__": {"a": 1}}')),
      400,
      "settings.fields.__proto__",
    );
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, body('{"address": {"__proto__": 1}}')),
      400,
      "settings.fields.address.__proto__",
    );
    expectError(await create(`{"deep": ${"[".repeat(40)}${"]".repeat(40)}}`), 400, "nest deeper than 32");
    expectError(await create(`{"big": "${"b".repeat(MAX_FIELDS_BYTES)}"}`), 400, `limit of ${MAX_FIELDS_BYTES}`);
  });
});
