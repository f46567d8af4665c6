import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { pickBranch } from "../../../src/engine/execution/split";
import { signedIn, visit } from "../../console/helpers";
import { api, expectError, ok } from "../../helpers";
import { buildScenario, recordActivities, testEngine } from "../fixtures";

const N = 40;

beforeAll(async () => {
  const records = Array.from({ length: N }, (_, i) => ({ id: `ab-${i}`, name: `AB ${i}`, cohort: "ab" }));
  await ok("POST", "/records/party/batch", { records });
});

describe("random split", () => {
  it("holds its weights within 2 points over 10,000 records, and is stable per record and split", () => {
    const branches = [
      { id: 11, weight: 50 },
      { id: 12, weight: 30 },
      { id: 13, weight: 20 },
    ];
    const counts = new Map<number, number>();
    let same = 0;
    for (let sr = 1; sr <= 10_000; sr++) {
      const b = pickBranch(branches, sr, 7) as (typeof branches)[number];
      counts.set(b.id, (counts.get(b.id) ?? 0) + 1);
      expect(pickBranch(branches, sr, 7)).toBe(b);
      // Another split (another parent activity) draws independently.
      if (pickBranch(branches, sr, 8)?.id === b.id) same++;
    }
    expect(Math.abs((counts.get(11) ?? 0) / 10_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs((counts.get(12) ?? 0) / 10_000 - 0.3)).toBeLessThan(0.02);
    expect(Math.abs((counts.get(13) ?? 0) / 10_000 - 0.2)).toBeLessThan(0.02);
    // Independent draws agree 0.5² + 0.3² + 0.2² = 38 % of the time; the same draw would agree always.
    expect(Math.abs(same / 10_000 - 0.38)).toBeLessThan(0.03);
  });

  it("sends each record down exactly one branch, the one its hash picks, with per-branch stats", async () => {
    const { scenarioId, activity } = await buildScenario(
      { name: "A/B", model: "party", domain: [["cohort", "=", "ab"]] },
      [
        { name: "Start" },
        { name: "A", parent: "Start", on: "split", weight: 1 },
        { name: "B", parent: "Start", on: "split", weight: 3 },
        { name: "Always", parent: "Start" },
      ],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });
    await ok("POST", "/jobs/process");
    await ok("POST", "/jobs/process");

    const rows = await recordActivities(scenarioId);
    const bySr = new Map<string, string[]>();
    for (const r of rows) bySr.set(r.scenario_record_id, [...(bySr.get(r.scenario_record_id) ?? []), r.activity_id]);
    expect(bySr.size).toBe(N);
    const branches = [
      { id: Number(activity.A), weight: 1 },
      { id: Number(activity.B), weight: 3 },
    ];
    let a = 0;
    for (const [sr, acts] of bySr) {
      expect(acts).toContain(activity.Always);
      const taken = acts.filter((x) => x === activity.A || x === activity.B);
      expect(taken).toHaveLength(1);
      expect(taken[0]).toBe(String(pickBranch(branches, Number(sr), Number(activity.Start))?.id));
      if (taken[0] === activity.A) a++;
    }
    // Branches run once due (their alarm, or the next call): then each counts the records that took it.
    await vi.waitFor(async () => {
      await ok("POST", "/jobs/process");
      const statsA = await ok("GET", `/activities/${activity.A}`);
      const statsB = await ok("GET", `/activities/${activity.B}`);
      expect(statsA).toMatchObject({ on: "split", weight: 1, split_share: 0.25, record_count: a });
      expect(statsB).toMatchObject({ weight: 3, split_share: 0.75, record_count: N - a });
    });

    const { cookie } = await signedIn();
    const page = await (await visit(`/console/scenarios/${scenarioId}`, { cookie })).text();
    expect(page).toContain("as a branch of a random split");
    expect(page).toContain("3 (75 % of the records)");
  });

  it("refuses a branch without a weight, a weight off a split, and a split at the root", async () => {
    const s = await ok("POST", "/scenarios", { name: "Split rules", model: "party" });
    const root = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Root" });
    const create = (body: Record<string, unknown>) =>
      api("POST", `/scenarios/${s.id}/activities`, { name: "X", ...body });
    expectError(await create({ parent_id: root.id, on: "split" }), 400, "weight: required");
    expectError(await create({ parent_id: root.id, on: "split", weight: 0 }), 400, "weight");
    expectError(await create({ parent_id: root.id, weight: 2 }), 400, "weight: only for a branch");
    expectError(await create({ on: "split", weight: 1 }), 400, 'on: "split" needs a parent activity');
  });
});
