import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { recordActivities } from "../engine/fixtures";
import { ok } from "../helpers";

/** `count` parties in a running scenario whose one e-mail is due now; the scenario id. */
async function due(name: string, count: number) {
  const prefix = name.toLowerCase().replace(/\W/g, "");
  const records = Array.from({ length: count }, (_, i) => ({
    id: `${prefix}${i}`,
    email: `${prefix}${i}@example.com`,
    cohort: name,
  }));
  await ok("POST", "/records/party/batch", { records });
  const scenario = await ok("POST", "/scenarios", { name, model: "party", domain: [["cohort", "=", name]] });
  await ok("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Mail",
    action: "send_email",
    email_title: "Hi",
    email_template: "<p>Hi</p>",
  });
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenario.id).run();
  const vars = env as Bindings;
  await enroll(buildServices(vars, { wake: async () => {} }), { scenarioId: Number(scenario.id) });
  return scenario.id as string;
}

/** Processes with these settings until `done` holds, as the Scheduler's alarms would (no wake-ups sent). */
async function processWith(vars: Partial<Bindings>, done: () => Promise<boolean>, rounds = 40) {
  const configured = { ...(env as Bindings), ...vars } as Bindings;
  const engine = buildServices(configured, { wake: async () => {} });
  for (let i = 0; i < rounds; i++) {
    await processDue(engine, { limit: 100 });
    if (await done()) return i + 1;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error("not done in time");
}

describe("throttling that waits", () => {
  it("a 429 storm delays sending without a single failed record activity or a counted attempt", async () => {
    const scenarioId = await due("Storm", 12);
    const reasons = new Set<string>();
    await processWith({ LOCAL_TRANSPORT_429_RATE: "0.5" }, async () => {
      const ras = await recordActivities(scenarioId);
      for (const r of ras) if (r.reason) reasons.add(r.reason);
      return ras.every((r) => r.state !== "waiting" && r.state !== "running");
    });
    const ras = await recordActivities(scenarioId);
    expect(ras.map((r) => r.state)).toEqual(Array(12).fill("done"));
    expect(ras.map((r) => r.attempts)).toEqual(Array(12).fill(1));
    expect([...reasons].some((r) => r.startsWith("waiting: the provider refused for now: local 429"))).toBe(true);
    const archived = (await ok("GET", `/emails?scenario_id=${scenarioId}&limit=500`)).items as { status: string }[];
    expect(archived.filter((m) => m.status === "sent")).toHaveLength(12);
    expect(archived.length).toBeGreaterThan(12);
    expect(archived.some((m) => m.status === "failed")).toBe(false);
  }, 60_000);

  it("keeps the send rate across concurrent passes (shards) and defers what would wait too long", async () => {
    const scenarioId = await due("Paced", 120);
    const configured = { ...(env as Bindings), SEND_RATE_PER_SECOND: "20" } as Bindings;
    const engine = buildServices(configured, { wake: async () => {} });
    // Two passes at once, as two Scheduler shards would run: they share the transport's throttle.
    const started = Date.now();
    await Promise.all([processDue(engine, { limit: 60 }), processDue(engine, { limit: 60 })]);
    const ras = await recordActivities(scenarioId);
    const deferred = ras.filter((r) => r.state === "waiting");
    expect(deferred.length).toBeGreaterThan(0);
    for (const r of deferred) {
      expect(r.reason).toBe("waiting for its turn under the send rate (20 a second)");
      expect(r.attempts).toBe(0);
      // Due at the throttle's next free turn, about 5 s (the longest a batch holds an e-mail) after the start.
      expect(Date.parse(r.at as string)).toBeGreaterThan(started + 4_000);
    }
    const sent = (
      await env.DB.prepare(
        "SELECT sent_at FROM email_archive WHERE scenario_id = ? AND status = 'sent' ORDER BY sent_at",
      )
        .bind(scenarioId)
        .all<{ sent_at: number }>()
    ).results.map((r) => r.sent_at);
    expect(sent.length).toBe(120 - deferred.length);
    // 20 a second, whichever pass sent them: the throttle's turns are 50 ms apart from no earlier than the start, and
    // an e-mail is sent at its turn or later (a loaded machine only makes it later), so the i-th send is at least
    // i × 50 ms after the start. Without the throttle, the 100-odd sends would all fit in about a second.
    sent.forEach((at, i) => {
      expect(at).toBeGreaterThanOrEqual(started + i * 50 - 1);
    });
  });
});
