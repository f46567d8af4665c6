import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { reconcileAbandoned } from "../../src/email/staged";
import { enroll } from "../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, processDue } from "../../src/engine/execution/execute";
import { withMailer } from "../../src/services";
import { buildScenario, deadClaim, recordActivityOf, sendEmail, testEngine } from "../engine/fixtures";
import { ok } from "../helpers";

afterEach(() => {
  vi.useRealTimers();
});

/** A scenario with one e-mail for `id`, enrolled; its record activity claimed by a Worker that died after archiving. */
async function diedAfterArchiving(name: string, id: string, activity: Record<string, unknown> = {}) {
  await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com`, tier: "gold" });
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", id]] }, [
    { name: "Mail", ...sendEmail, ...activity },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  const ra = await recordActivityOf(built.scenarioId, built.activity.Mail as string, id);
  const claimedAt = Date.now();
  await deadClaim("id = ?", [ra?.id], claimedAt + CLAIM_TIMEOUT_MS);
  // What archiveAttempts wrote before the transport was called: the Worker died before hearing its answer.
  await env.DB.prepare(
    `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject, message_id,
       headers, transport, status, body_key, attempt, created_at)
     VALUES (?, ?, ?, ?, ?, 'marketing@example.com', 'Hi', '<dead@example.com>', '{}', 'local', 'sending', 'k', 1, ?)`,
  )
    .bind(ra?.id, built.scenarioId, built.activity.Mail, ra?.scenario_record_id, `${id}@example.com`, claimedAt)
    .run();
  return { ...built, raId: ra?.id as string, claimedAt };
}

const statuses = async (raId: string) =>
  (
    await env.DB.prepare("SELECT status, error, attempt FROM email_archive WHERE record_activity_id = ? ORDER BY id")
      .bind(raId)
      .all<{ status: string; error: string | null; attempt: number }>()
  ).results;

describe("no orphan sending rows", () => {
  it("a recovered claim sends again and the dead attempt's row is marked abandoned, never sent", async () => {
    const { raId, claimedAt } = await diedAfterArchiving("Orphan retried", "orphan1");
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(claimedAt + CLAIM_TIMEOUT_MS + 1);
    await processDue(testEngine().engine);
    const rows = await statuses(raId);
    expect(rows.map((r) => [r.status, r.attempt])).toEqual([
      ["abandoned", 1],
      ["sent", 2],
    ]);
    expect(rows[0]?.error).toContain("not known to be delivered");
    const sending = await env.DB.prepare("SELECT count(*) AS n FROM email_archive WHERE status = 'sending'").first<{
      n: number;
    }>();
    expect(sending?.n).toBe(0);
  });

  it("a recovered claim that ends without sending settles the dead attempt's row as abandoned when it commits", async () => {
    const { scenarioId, activity, raId, claimedAt } = await diedAfterArchiving("Orphan cancelled", "orphan2", {
      condition: [["tier", "=", "gold"]],
    });
    await ok("PUT", "/records/party/orphan2", { name: "orphan2", email: "orphan2@example.com", tier: "silver" });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(claimedAt + CLAIM_TIMEOUT_MS + 1);
    await processDue(testEngine().engine);
    expect(await recordActivityOf(scenarioId, activity.Mail as string, "orphan2")).toMatchObject({
      state: "cancelled",
    });
    const rows = await statuses(raId);
    expect(rows.map((r) => r.status)).toEqual(["abandoned"]);
    expect(rows[0]?.error).toContain("not known to be delivered");
    // The sweep finds nothing left, and is safe to repeat.
    expect(await reconcileAbandoned(env.DB, Date.now(), CLAIM_TIMEOUT_MS)).toBe(0);
    expect((await statuses(raId)).map((r) => r.status)).toEqual(["abandoned"]);
  });

  it("a lapsed claim nobody takes over (its scenario stopped) leaves its row to the sweep, once the claim lapsed", async () => {
    const { scenarioId, raId, claimedAt } = await diedAfterArchiving("Orphan parked", "orphan4");
    await ok("POST", `/scenarios/${scenarioId}/stop`);
    expect(await reconcileAbandoned(env.DB, claimedAt + 60_000, CLAIM_TIMEOUT_MS)).toBe(0);
    expect((await statuses(raId)).map((r) => r.status)).toEqual(["sending"]);
    expect(await reconcileAbandoned(env.DB, claimedAt + CLAIM_TIMEOUT_MS + 1, CLAIM_TIMEOUT_MS)).toBe(1);
    expect((await statuses(raId)).map((r) => r.status)).toEqual(["abandoned"]);
    expect(await reconcileAbandoned(env.DB, claimedAt + CLAIM_TIMEOUT_MS + 2, CLAIM_TIMEOUT_MS)).toBe(0);
  });

  it("a row left sending although the engine heard sent (the archive's write failed) is settled as sent", async () => {
    await ok("PUT", "/records/party/orphan3", { name: "orphan3", email: "orphan3@example.com" });
    const built = await buildScenario({ name: "Orphan delivered", model: "party", domain: [["id", "=", "orphan3"]] }, [
      { name: "Mail", ...sendEmail },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(built.scenarioId) });
    // A mailer that archived and delivered, but whose write of the delivery failed: the row stays `sending`.
    const mailer = {
      async sendBatch(jobs: { recordActivityId: number; scenarioRecord: { id: number } }[]) {
        const job = jobs[0] as (typeof jobs)[number];
        const row = await env.DB.prepare(
          `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
             message_id, headers, transport, status, body_key, attempt, created_at)
           VALUES (?, ?, ?, ?, 'orphan3@example.com', 'm@example.com', 'Hi', '<x@example.com>', '{}', 'local', 'sending',
             'k', 1, ?) RETURNING id`,
        )
          .bind(job.recordActivityId, built.scenarioId, built.activity.Mail, job.scenarioRecord.id, Date.now())
          .first<{ id: number }>();
        return [{ status: "sent" as const, emailId: row?.id as number }];
      },
    };
    await processDue(withMailer(engine, mailer));
    const ra = await recordActivityOf(built.scenarioId, built.activity.Mail as string, "orphan3");
    expect(ra).toMatchObject({ state: "done" });
    const rows = await env.DB.prepare("SELECT status, sent_at FROM email_archive WHERE record_activity_id = ?")
      .bind(ra?.id)
      .all<{ status: string; sent_at: number | null }>();
    expect(rows.results).toEqual([{ status: "sent", sent_at: expect.any(Number) }]);
  });
});
