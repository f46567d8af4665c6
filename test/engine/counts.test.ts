import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listActivityTree } from "../../src/engine/activities";
import { enroll } from "../../src/engine/enroll";
import { processDue } from "../../src/engine/execute";
import { getScenario } from "../../src/engine/scenarios";
import { ok } from "../helpers";
import { buildScenario, ScriptedMailer, sendEmail, testEngine } from "./fixtures";

afterEach(() => {
  vi.restoreAllMocks();
});

/** The SQL run while `work` runs. */
async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
  const prepare = vi.spyOn(env.DB, "prepare");
  await work();
  const sql = prepare.mock.calls.map((call) => String(call[0]));
  prepare.mockRestore();
  return sql;
}

describe("counts without full scans", () => {
  it("a scenario's and its activities' counts are exact and read no scenario record or record activity", async () => {
    await ok("POST", "/records/party/batch", {
      records: Array.from({ length: 120 }, (_, i) => ({
        id: `c${i}`,
        name: `C${i}`,
        email: `c${i}@example.com`,
        cohort: "counts",
      })),
    });
    const built = await buildScenario({ name: "Counted", model: "party", domain: [["cohort", "=", "counts"]] }, [
      { name: "Mail", ...sendEmail },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(built.scenarioId) });
    await enroll(engine, { scenarioId: Number(built.scenarioId) }); // twice: nobody enters twice, nothing counts twice
    const { items } = await ok("GET", `/scenarios/${built.scenarioId}/records?limit=3`);
    for (const r of items.slice(0, 2)) await ok("POST", `/scenario-records/${r.id}/block`);
    await ok("POST", `/scenario-records/${items[0].id}/block`); // repeated: changes nothing
    await ok("POST", `/scenario-records/${items[1].id}/unblock`);
    // Blocked records are not sent to: 119 e-mails.
    while ((await processDue({ ...engine, mailer: new ScriptedMailer() })).claimed > 0);
    const ras = await ok("GET", `/scenarios/${built.scenarioId}/record-activities?limit=2&state=done`);
    await ok("POST", `/record-activities/${ras.items[0].id}/clicked`);
    await ok("POST", `/record-activities/${ras.items[0].id}/clicked`);
    await ok("POST", `/record-activities/${ras.items[1].id}/opened`);

    const id = Number(built.scenarioId);
    let scenario: Awaited<ReturnType<typeof getScenario>> | undefined;
    let tree: Awaited<ReturnType<typeof listActivityTree>> = [];
    const sql = await statementsOf(async () => {
      scenario = await getScenario(engine, id);
      tree = await listActivityTree(engine, id);
    });
    expect(scenario).toMatchObject({ recordCount: 120, recordCountBlocked: 1, blockRate: 0.01 });
    expect(tree[0]).toMatchObject({ recordCount: 119, emailOpened: 2, emailClicked: 1 });
    expect(
      sql.some((s) => /scenario_records|record_activities/.test(s)),
      sql.join("\n"),
    ).toBe(false);

    // The counts agree with the rows they stand for.
    const truth = await env.DB.prepare(
      `SELECT (SELECT count(*) FROM scenario_records WHERE scenario_id = ?1) AS n,
              (SELECT sum(blocked) FROM scenario_records WHERE scenario_id = ?1) AS blocked,
              (SELECT sum(state = 'done') FROM record_activities WHERE scenario_id = ?1) AS done`,
    )
      .bind(id)
      .first();
    expect(truth).toEqual({ n: 120, blocked: 1, done: 119 });
  });
});
