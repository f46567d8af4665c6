import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { actionRegistry, builtInActions } from "../../src/actions/registry";
import { createMailer } from "../../src/email/mailer";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import type { Action } from "../../src/engine/ports";
import { createActivity } from "../../src/engine/scenarios/activities";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivities } from "../engine/fixtures";
import { ok } from "../helpers";

/** Two actions that each wait (up to 2 s) for the other to have started: they only both see it when run together. */
const started = new Set<string>();
const waiting = (name: string): Action<Record<string, never>> => ({
  name,
  settings: z.object({}).strict(),
  async execute(jobs) {
    started.add(name);
    const other = name === "slow_a" ? "slow_b" : "slow_a";
    const until = Date.now() + 2_000;
    while (!started.has(other) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return jobs.map(() =>
      started.has(other)
        ? { status: "done" as const }
        : { status: "failed" as const, error: `${other} waited for ${name}` },
    );
  },
});

const engine = buildServices(env as Bindings, {
  wake: async () => {},
  actions: actionRegistry([
    ...builtInActions({ mailer: () => createMailer(env as Bindings) }),
    waiting("slow_a") as Action,
    waiting("slow_b") as Action,
  ]),
});

describe("one action's slow calls do not hold up another action's batch", () => {
  it("the batches of two actions in one claim run at the same time", async () => {
    await ok("PUT", "/records/party/stanley", { name: "Stanley", cohort: "slow" });
    const { scenarioId } = await buildScenario({ name: "Slow", model: "party", domain: [["cohort", "=", "slow"]] }, []);
    for (const action of ["slow_a", "slow_b"]) {
      await createActivity(engine, Number(scenarioId), {
        parentId: null,
        name: action,
        on: null,
        condition: null,
        delay: null,
        action,
        emailFrom: null,
        emailTitle: null,
        emailTemplate: null,
        settings: {},
        weight: null,
        emailTranslations: null,
        sendWindow: null,
      });
    }
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    expect(await processDue(engine)).toMatchObject({ claimed: 2, done: 2 });
    expect((await recordActivities(scenarioId)).map((r) => r.state)).toEqual(["done", "done"]);
  });
});
