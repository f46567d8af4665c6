import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { MAX_EXECUTIONS_PER_CALL } from "../../src/engine/execution/process";
import type { Bindings } from "../../src/env";
import { enrollerStub } from "../../src/scheduler/client";
import { signedIn, visit } from "../console/helpers";
import { ok } from "../helpers";
import { buildScenario, testEngine } from "./fixtures";

const bindings = env as Bindings;

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "pam", name: "Pam Beesly", email: "pam@example.com", cohort: "paths" },
      { id: "jim", name: "Jim Halpert", email: "jim@example.com", cohort: "paths" },
    ],
  });
});

async function scenarioRecords(scenarioId: string) {
  return (await ok("GET", `/scenarios/${scenarioId}/records`)).items as { record_id: string }[];
}

describe("one path for each verb", () => {
  it("the console's Run and the API's Run both hand enrollment to the scenario's Enroller", async () => {
    const byApi = await buildScenario({ name: "Run by API", model: "party", domain: [["cohort", "=", "paths"]] }, [
      { name: "Step" },
    ]);
    const byConsole = await buildScenario(
      { name: "Run by console", model: "party", domain: [["cohort", "=", "paths"]] },
      [{ name: "Step" }],
    );
    await ok("POST", `/scenarios/${byApi.scenarioId}/run`);
    const { cookie, csrf } = await signedIn(`/console/scenarios/${byConsole.scenarioId}`);
    const run = await visit(`/console/scenarios/${byConsole.scenarioId}/run`, { cookie, form: { csrf } });
    expect(run.status).toBe(303);

    for (const { scenarioId } of [byApi, byConsole]) {
      const enroller = enrollerStub(bindings, Number(scenarioId));
      // Asked by the verb: the Enroller knows the scenario (an enrollment done in the request would leave it blank).
      expect((await enroller.status()).scenarioId).toBe(Number(scenarioId));
      await runInDurableObject(enroller, (instance) => instance.alarm());
      expect((await scenarioRecords(scenarioId)).map((r) => r.record_id).sort()).toEqual(["jim", "pam"]);
    }
  });
});

describe("the jobs API", () => {
  it("executes at most as many record activities a call as an alarm, and says when more is due", async () => {
    const n = MAX_EXECUTIONS_PER_CALL + 30;
    const records = Array.from({ length: n }, (_, i) => ({ id: `bulk-${i}`, name: `Bulk ${i}`, cohort: "bulk" }));
    await ok("POST", "/records/party/batch", { records });
    const built = await buildScenario({ name: "Bulk", model: "party", domain: [["cohort", "=", "bulk"]] }, [
      { name: "Step" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });

    const first = await ok("POST", "/jobs/process");
    expect(first).toMatchObject({ claimed: MAX_EXECUTIONS_PER_CALL, done: MAX_EXECUTIONS_PER_CALL, more: true });
    const second = await ok("POST", "/jobs/process");
    expect(second).toMatchObject({ claimed: 30, done: 30, more: false });
  });
});
