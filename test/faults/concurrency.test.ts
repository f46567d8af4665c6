import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SHARD_COUNT } from "../../src/db/shards";
import type { Mailer } from "../../src/email/job";
import { enroll } from "../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, processDue } from "../../src/engine/execution/execute";
import type { Bindings } from "../../src/env";
import { schedulerStub } from "../../src/scheduler/client";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivities, testEngine } from "../engine/fixtures";
import { api, ok } from "../helpers";

const bindings = env as unknown as Bindings;

afterEach(() => {
  vi.useRealTimers();
});

async function mailScenario(name: string, count: number) {
  const ids = Array.from({ length: count }, (_, i) => `${name.toLowerCase()}${i}`);
  await ok("POST", "/records/party/batch", {
    records: ids.map((id) => ({ id, name: id, email: `${id}@example.com` })),
  });
  const built = await buildScenario({ name, model: "party", domain: [["id", "in", ids]] }, [
    {
      name: "Mail",
      action: "send_email",
      email_title: "Hi",
      email_template: '<p>Hi</p><a href="https://x.example/">x</a>',
    },
    { name: "After", parent: "Mail" },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  return { ...built, ids };
}

async function sentPerRecordActivity(scenarioId: string) {
  const { results } = await env.DB.prepare(
    "SELECT record_activity_id, count(*) AS n FROM email_archive WHERE scenario_id = ? AND status = 'sent' GROUP BY record_activity_id",
  )
    .bind(scenarioId)
    .all<{ record_activity_id: number; n: number }>();
  return results;
}

describe("fault injection: duplicate alarms, overlapping sweeps and dead Workers", () => {
  it("alarms delivered twice on every shard, sweeps and process calls at once: each e-mail sent once", async () => {
    const s = await mailScenario("Storm", 60);
    const stubs = Array.from({ length: SHARD_COUNT }, (_, shard) => schedulerStub(bindings, shard));
    await Promise.all(stubs.map((stub, shard) => stub.wake({ shard, at: Date.now() })));
    await Promise.all([
      ...stubs.flatMap((stub) => [
        runInDurableObject(stub, (instance) => instance.alarm()),
        runInDurableObject(stub, (instance) => instance.alarm()),
      ]),
      api("POST", "/jobs/process"),
      api("POST", "/jobs/process"),
      processDue(buildServices(bindings)),
    ]);
    for (const stub of stubs) await runDurableObjectAlarm(stub);
    await ok("POST", "/jobs/process");
    const sent = await sentPerRecordActivity(s.scenarioId);
    expect(sent).toHaveLength(60);
    expect(sent.every((r) => r.n === 1)).toBe(true);
    const mails = await recordActivities(s.scenarioId, `&activity_id=${s.activity.Mail}`);
    expect(mails.every((r) => r.state === "done" && r.attempts === 1)).toBe(true);
    expect(await recordActivities(s.scenarioId, `&activity_id=${s.activity.After}`)).toHaveLength(60);
  });

  it("a Worker that dies after claiming loses no work: its claim is taken over after the timeout", async () => {
    const s = await mailScenario("Crash", 5);
    // This "Worker" claims everything, then never comes back (its promise never settles).
    const hang: Mailer = { sendBatch: () => new Promise(() => {}) };
    void processDue(buildServices(bindings, { mailer: hang }));
    await vi.waitFor(async () => {
      const running = await recordActivities(s.scenarioId, "&state=running");
      expect(running).toHaveLength(5);
    });
    // Before the timeout, nobody else may take the claimed rows.
    expect((await processDue(buildServices(bindings))).claimed).toBe(0);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + CLAIM_TIMEOUT_MS + 1_000);
    const recovered = await processDue(buildServices(bindings));
    expect(recovered).toMatchObject({ claimed: 5, done: 5 });
    const sent = await sentPerRecordActivity(s.scenarioId);
    expect(sent).toHaveLength(5);
    expect(sent.every((r) => r.n === 1)).toBe(true);
  });
});
