import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { listActivityTree } from "../../../src/engine/scenarios/activities";
import { getScenario } from "../../../src/engine/scenarios/scenarios";
import { withMailer } from "../../../src/services";
import { ok } from "../../helpers";
import { buildScenario, ScriptedMailer, sendEmail, testEngine } from "../fixtures";

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
    while ((await processDue(withMailer(engine, new ScriptedMailer()))).claimed > 0);
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

  it("an activity's waiting, cancelled and failed counts follow every transition, exact, without an index by state", async () => {
    await ok("POST", "/records/party/batch", {
      records: Array.from({ length: 6 }, (_, i) => ({
        id: `w${i}`,
        name: `W${i}`,
        email: `w${i}@example.com`,
        cohort: "states",
        tier: "silver",
      })),
    });
    const built = await buildScenario({ name: "States", model: "party", domain: [["cohort", "=", "states"]] }, [
      { name: "Mail", ...sendEmail, condition: [["tier", "=", "silver"]] },
      { name: "Later", parent: "Mail", delay: "P1D" },
      { name: "Opened", parent: "Mail", on: "email_opened", delay: "P1D" },
    ]);
    const id = built.scenarioId;
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(id).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(id) });
    const counts = async () => {
      const tree = await ok("GET", `/scenarios/${id}/activities`);
      return Object.fromEntries(
        tree.items.map((a: Record<string, unknown>) => [
          a.name,
          [a.waiting_count, a.record_count, a.cancelled_count, a.failed_count],
        ]),
      );
    };
    expect((await counts()).Mail).toEqual([6, 0, 0, 0]);
    for (const r of ["w0", "w1"]) {
      await ok("PUT", `/records/party/${r}`, { name: r, email: `${r}@example.com`, cohort: "states", tier: "gold" });
    }
    // Two fail their condition (cancelled), one fails to send for good, three are sent: their children wait.
    let n = 0;
    const mailer = new ScriptedMailer(() =>
      n++ === 0 ? { status: "failed", error: "refused", emailId: null } : { status: "sent", emailId: 0 },
    );
    while ((await processDue(withMailer(engine, mailer))).claimed > 0);
    expect(await counts()).toEqual({ Mail: [0, 3, 2, 1], Later: [3, 0, 0, 0], Opened: [3, 0, 0, 0] });
    // An opened e-mail makes its child due; deleting the branch takes its waiting rows (and their count) along.
    const ras = await ok("GET", `/scenarios/${id}/record-activities?state=done&activity_id=${built.activity.Mail}`);
    await ok("POST", `/record-activities/${ras.items[0].id}/opened`);
    await ok("DELETE", `/activities/${built.activity.Later}`);
    const truth = await env.DB.prepare(
      `SELECT activity_id AS a, sum(state IN ('waiting', 'running')) AS w, sum(state = 'done') AS d,
         sum(state = 'cancelled') AS c, sum(state = 'failed') AS f
       FROM record_activities WHERE scenario_id = ? GROUP BY activity_id ORDER BY activity_id`,
    )
      .bind(id)
      .all<{ a: number; w: number; d: number; c: number; f: number }>();
    const now = await counts();
    expect(Object.keys(now).sort()).toEqual(["Mail", "Opened"]);
    const byId = { [built.activity.Mail as string]: now.Mail, [built.activity.Opened as string]: now.Opened };
    for (const t of truth.results) expect(byId[String(t.a)]).toEqual([t.w, t.d, t.c, t.f]);
  });
});
