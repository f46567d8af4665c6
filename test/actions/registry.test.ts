import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { actionRegistry, builtInActions } from "../../src/actions/registry";
import { createMailer } from "../../src/email/mailer";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import type { Action } from "../../src/engine/ports";
import { type ActivityInput, createActivity } from "../../src/engine/scenarios/activities";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivities } from "../engine/fixtures";
import { ok } from "../helpers";
import { stampAction, stamped } from "./fixture-action";

/** The engine with one more action in its registry: nothing else changes. */
const engine = buildServices(env as Bindings, {
  wake: async () => {},
  actions: actionRegistry([...builtInActions({ mailer: () => createMailer(env as Bindings) }), stampAction as Action]),
});

const activity = (settings: Record<string, unknown> | null): ActivityInput => ({
  parentId: null,
  name: "Stamp",
  on: null,
  condition: null,
  delay: null,
  action: "stamp",
  emailFrom: null,
  emailTitle: null,
  emailTemplate: null,
  settings,
  weight: null,
  emailTranslations: null,
  sendWindow: null,
});

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "toby", name: "Toby Flenderson", cohort: "stamp" },
      { id: "held", name: "Held", hold: true, cohort: "stamp" },
      { id: "nameless", cohort: "stamp" },
    ],
  });
});

describe("an action added in its own file and the registry", () => {
  it("validates its settings when saved and runs through the engine with every outcome", async () => {
    const { scenarioId } = await buildScenario(
      { name: "Stamps", model: "party", domain: [["cohort", "=", "stamp"]] },
      [],
    );
    await expect(createActivity(engine, Number(scenarioId), activity({ label: "" }))).rejects.toThrow(
      "settings.label: must not be empty",
    );
    // The built-in registry does not know it.
    await expect(
      createActivity(buildServices(env as Bindings), Number(scenarioId), activity({ label: "x" })),
    ).rejects.toThrow('action: unknown action "stamp"');
    await createActivity(engine, Number(scenarioId), activity({ label: "approved" }));
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(engine, { scenarioId: Number(scenarioId) });

    expect(await processDue(engine)).toMatchObject({ claimed: 3, done: 1, failed: 1, deferred: 1 });
    expect(stamped).toEqual([{ recordId: "toby", label: "approved" }]);
    const states = Object.fromEntries(
      (await recordActivities(scenarioId)).map((r) => [r.state, { reason: r.reason, attempts: r.attempts }]),
    );
    expect(states).toEqual({
      done: { reason: null, attempts: 1 },
      failed: { reason: "no name to stamp", attempts: 1 },
      // Deferred: back to waiting with its reason, and the attempt is not counted.
      waiting: { reason: "on hold", attempts: 0 },
    });
  });
});
