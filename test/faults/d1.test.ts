import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { getDb } from "../../src/db/client";
import { SHARD_COUNT } from "../../src/db/shards";
import { enroll } from "../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, processDue } from "../../src/engine/execution/execute";
import { upsertRecords } from "../../src/engine/records/records";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivities, testEngine } from "../engine/fixtures";
import { ok } from "../helpers";

const bindings = env as unknown as Bindings;

afterEach(() => {
  vi.useRealTimers();
});

/** A D1 binding whose next `batch` calls fail (as a D1 outage or an overloaded database would). */
function failingBatches(d1: D1Database, failures: number): D1Database {
  let left = failures;
  return new Proxy(d1, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          if (left > 0) {
            left--;
            throw new Error("D1_ERROR: Network connection lost.");
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("fault injection: D1 errors on a write inside a batch", () => {
  it("D1 applies a batch entirely or not at all", async () => {
    await expect(
      env.DB.batch([
        env.DB.prepare("INSERT INTO models (name, party_field, created_at) VALUES ('atomic_a', 'p', 0)"),
        env.DB.prepare("INSERT INTO models (name, party_field, created_at) VALUES ('party', NULL, 0)"),
      ]),
    ).rejects.toThrow();
    expect(await env.DB.prepare("SELECT name FROM models WHERE name = 'atomic_a'").first()).toBeNull();
  });

  it("a record batch that fails is reported and leaves nothing half-written", async () => {
    const db = getDb(failingBatches(env.DB, 1));
    const records = Array.from({ length: 600 }, (_, i) => ({ id: `half${i}`, name: `H${i}` }));
    await expect(upsertRecords(db, "party", records, Date.now())).rejects.toThrow("D1_ERROR");
    expect(await env.DB.prepare("SELECT count(*) AS n FROM records WHERE id LIKE 'half%'").first()).toEqual({ n: 0 });
    await upsertRecords(db, "party", records, Date.now());
    expect(await env.DB.prepare("SELECT count(*) AS n FROM records WHERE id LIKE 'half%'").first()).toEqual({ n: 600 });
  });

  it("when the engine cannot write its results, nothing is half-applied and the work is recovered once", async () => {
    const ids = ["d1a", "d1b", "d1c"];
    await ok("POST", "/records/party/batch", {
      records: ids.map((id) => ({ id, name: id, email: `${id}@example.com` })),
    });
    const { scenarioId, activity } = await buildScenario(
      { name: "D1 outage", model: "party", domain: [["id", "in", ids]] },
      [
        { name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" },
        { name: "After", parent: "Mail" },
      ],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });

    // The e-mails go out, then the engine's result batch fails.
    let batches = 0;
    const flaky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (s: D1PreparedStatement[]) => {
            batches++;
            // First a claim for each shard (no shard given: each in turn), then 1: the engine's reads, 2: the
            // recipient gate's reads, 3: the archive rows, 4: the delivery statuses, 5: the engine's results.
            if (batches === SHARD_COUNT + 5) throw new Error("D1_ERROR: Network connection lost.");
            return target.batch(s);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const outage = { ...bindings, DB: flaky } as Bindings;
    await expect(processDue(buildServices(outage, { wake: async () => {} }))).rejects.toThrow("D1_ERROR");

    // Not half-applied: still running under the dead claim, and no child exists.
    const mails = await recordActivities(scenarioId, `&activity_id=${activity.Mail}`);
    expect(mails.map((r) => r.state)).toEqual(["running", "running", "running"]);
    expect(await recordActivities(scenarioId, `&activity_id=${activity.After}`)).toHaveLength(0);

    // After the claim timeout the work is taken over, completed without sending the e-mails again.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + CLAIM_TIMEOUT_MS + 1_000);
    const result = await processDue(buildServices(bindings, { wake: async () => {} }));
    expect(result).toMatchObject({ claimed: 3, done: 3 });
    const sent = await env.DB.prepare(
      "SELECT count(*) AS n FROM email_archive WHERE scenario_id = ? AND status = 'sent'",
    )
      .bind(scenarioId)
      .first();
    expect(sent).toEqual({ n: 3 });
    expect(await recordActivities(scenarioId, `&activity_id=${activity.After}`)).toHaveLength(3);
  });
});
