import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { type Claimed, claim } from "../../../src/engine/execution/claim";
import { commitClaim } from "../../../src/engine/execution/commit";
import { CLAIM_TIMEOUT_MS, MAX_ATTEMPTS, processDue } from "../../../src/engine/execution/execute";
import { reachGoal } from "../../../src/engine/reactions/goals";
import { withMailer } from "../../../src/services";
import { api, ok } from "../../helpers";
import {
  buildScenario,
  legacyDeadClaim,
  recordActivities,
  recordActivityOf,
  ScriptedMailer,
  sendEmail,
  testEngine,
} from "../fixtures";

const PARTIES = Array.from({ length: 100 }, (_, i) => `cl${i}`);

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: PARTIES.map((id) => ({ id, name: id, email: `${id}@example.com`, tier: "silver" })),
  });
});

afterEach(() => {
  vi.useRealTimers();
});

// Claims take what is due in every scenario: each test starts with the earlier tests' scenarios stopped, no claim held.
beforeEach(async () => {
  await env.DB.batch([
    env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE state = 'running'"),
    env.DB.prepare("UPDATE record_activities SET parked = 1 WHERE state = 'waiting'"),
    env.DB.prepare("DELETE FROM claims"),
  ]);
});

async function running(name: string, ids: string[], activities: Parameters<typeof buildScenario>[1], goal?: unknown[]) {
  const built = await buildScenario({ name, model: "party", domain: [["id", "in", ids]], goal }, activities);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  return built;
}

/** The record activities of a scenario as stored in D1 (not as the API shows them). */
const stored = async (scenarioId: string) =>
  (
    await env.DB.prepare(
      "SELECT id, state, attempts, updated_at, claim_key FROM record_activities WHERE scenario_id = ? ORDER BY id",
    )
      .bind(scenarioId)
      .all<{ id: number; state: string; attempts: number; updated_at: number; claim_key: string | null }>()
  ).results;

/** A D1 binding that adds up the rows written by its batches. */
function measured() {
  const written = { rows: 0 };
  const d1 = new Proxy(env.DB, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          const results = await target.batch(statements);
          for (const r of results) written.rows += r.meta.rows_written ?? 0;
          return results;
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { d1, written };
}

/** Claims everything due at `now`, like a Worker that then dies before committing. */
const claimAt = (key: string, now: number, limit = 100, d1: D1Database = env.DB) =>
  claim(d1, { claimKey: key, now, limit, shard: undefined });

describe("claims", () => {
  it("a claim writes its claims row and nothing on the record activities it takes", async () => {
    const { scenarioId } = await running("One row a claim", PARTIES, [{ name: "Mail", ...sendEmail }]);
    const before = await stored(scenarioId);
    expect(before).toHaveLength(100);
    const { d1, written } = measured();
    const { claimed } = await claimAt("one-row", Date.now(), 100, d1);
    expect(claimed).toHaveLength(100);
    expect(claimed.every((c) => c.attempts === 1)).toBe(true);
    const claimsRows = await env.DB.prepare("SELECT count(*) AS n FROM claims WHERE key = 'one-row'").first<{
      n: number;
    }>();
    // One claims row a shard, each with its primary-key and shard index entries: no record activity row.
    expect(written.rows).toBe((claimsRows?.n ?? 0) * 3);
    expect(await stored(scenarioId)).toEqual(before);
    // Shown as running while the claim holds them.
    const shown = await recordActivities(scenarioId, "&state=running");
    expect(shown).toHaveLength(100);
    expect(await recordActivities(scenarioId, "&state=waiting")).toHaveLength(0);
  });

  it("two overlapping claims never take the same row, and rows held by live claims wake nothing", async () => {
    const ids = PARTIES.slice(0, 30);
    const { scenarioId } = await running("Overlap", ids, [{ name: "Step" }]);
    const now = Date.now();
    const a = await claimAt("overlap-a", now, 10);
    const b = await claimAt("overlap-b", now + 1);
    expect(a.claimed).toHaveLength(10);
    expect(b.claimed).toHaveLength(20);
    const all = new Set([...a.claimed, ...b.claimed].map((c) => c.id));
    expect(all.size).toBe(30);
    expect((await claimAt("overlap-c", now + 2)).claimed).toHaveLength(0);
    expect((await stored(scenarioId)).every((r) => r.state === "waiting")).toBe(true);
    // Nothing to execute and nothing more to look for while the claims are live.
    expect(await processDue(testEngine().engine)).toMatchObject({ claimed: 0, more: false });
  });

  it("a lapsed claim is taken over with its attempt counted, and the dead claim's late commit changes nothing", async () => {
    const { scenarioId, activity } = await running("Takeover", PARTIES.slice(0, 3), [
      { name: "Step" },
      { name: "Next", parent: "Step", delay: "P1D" },
    ]);
    const { engine } = testEngine();
    const t0 = Date.now();
    const dead = await claimAt("takeover-dead", t0);
    expect(dead.claimed.map((c) => c.attempts)).toEqual([1, 1, 1]);
    expect((await claimAt("takeover-early", t0 + CLAIM_TIMEOUT_MS - 1)).claimed).toHaveLength(0);
    const t1 = t0 + CLAIM_TIMEOUT_MS + 1;
    const taken = await claimAt("takeover-new", t1);
    expect(taken.claimed.map((c) => c.attempts)).toEqual([2, 2, 2]);
    // The dead attempt is counted at the takeover; the rows are still waiting, held by the new claim.
    expect((await stored(scenarioId)).map((r) => [r.state, r.attempts])).toEqual([
      ["waiting", 1],
      ["waiting", 1],
      ["waiting", 1],
    ]);
    const done = (c: Claimed[]) => c.map((x) => ({ id: x.id, state: "done" as const }));
    await commitClaim(engine, "takeover-dead", dead.claimed, done(dead.claimed), t1 + 1);
    expect((await stored(scenarioId)).map((r) => r.state)).toEqual(["waiting", "waiting", "waiting"]);
    const counts = await ok("GET", `/activities/${activity.Step}`);
    expect(counts).toMatchObject({ record_count: 0, waiting_count: 3 });
    await commitClaim(engine, "takeover-new", taken.claimed, done(taken.claimed), t1 + 2);
    const after = await stored(scenarioId);
    expect(after.slice(0, 3).map((r) => [r.state, r.attempts])).toEqual([
      ["done", 2],
      ["done", 2],
      ["done", 2],
    ]);
    expect(after.filter((r) => r.state === "waiting")).toHaveLength(3); // the children
    expect(await ok("GET", `/activities/${activity.Step}`)).toMatchObject({ record_count: 3, waiting_count: 0 });
    const left = await env.DB.prepare("SELECT count(*) AS n FROM claims WHERE key LIKE 'takeover-%'").first<{
      n: number;
    }>();
    expect(left?.n).toBe(0);
  });

  it("a record activity whose Worker dies at every attempt fails after the last one, without running again", async () => {
    const [id] = PARTIES.slice(40, 41) as [string];
    const { scenarioId, activity } = await running("Poison", [id], [{ name: "Mail", ...sendEmail }]);
    const t0 = Date.now();
    let at = t0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { claimed } = await claimAt(`poison-${attempt}`, at);
      expect(claimed.map((c) => c.attempts)).toEqual([attempt]);
      at += CLAIM_TIMEOUT_MS + 1;
    }
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(at);
    const mailer = new ScriptedMailer();
    expect(await processDue(withMailer(testEngine().engine, mailer))).toMatchObject({ claimed: 1, failed: 1 });
    expect(mailer.jobs).toHaveLength(0);
    expect(await recordActivityOf(scenarioId, activity.Mail as string, id)).toMatchObject({
      state: "failed",
      attempts: MAX_ATTEMPTS + 1,
      reason: `gave up after ${MAX_ATTEMPTS} attempts: the Worker executing it stopped before it finished`,
    });
  });

  it("during the send, a goal reached cancels and wins over the commit; a stop parks and keeps it", async () => {
    const goal = [["tier", "=", "gold"]];
    const [cancelled, kept] = PARTIES.slice(50, 52) as [string, string];
    const g = await running(
      "Goal during send",
      [cancelled],
      [
        { name: "Mail", ...sendEmail },
        { name: "Next", parent: "Mail", delay: "P1D" },
      ],
      goal,
    );
    const { engine } = testEngine();
    const mailer = new ScriptedMailer(async (job) => {
      await env.DB.prepare("UPDATE records SET fields = json_set(fields, '$.tier', 'gold') WHERE id = ?")
        .bind(job.record.id)
        .run();
      await reachGoal(
        engine,
        { id: Number(g.scenarioId), model: "party", goal } as never,
        [job.scenarioRecord.id],
        Date.now(),
      );
      return { status: "sent", emailId: 0 };
    });
    expect(await processDue(withMailer(engine, mailer))).toMatchObject({ claimed: 1, done: 1 });
    expect(mailer.jobs).toHaveLength(1);
    expect(await recordActivityOf(g.scenarioId, g.activity.Mail as string, cancelled)).toMatchObject({
      state: "cancelled",
      reason: "goal reached",
    });
    expect(await recordActivityOf(g.scenarioId, g.activity.Next as string, cancelled)).toBeUndefined();
    expect(await ok("GET", `/activities/${g.activity.Mail}`)).toMatchObject({
      record_count: 0,
      waiting_count: 0,
      cancelled_count: 1,
    });

    const s = await running(
      "Stop during send",
      [kept],
      [
        { name: "Mail", ...sendEmail },
        { name: "Next", parent: "Mail", delay: "P1D" },
      ],
    );
    const stopper = new ScriptedMailer(async () => {
      await ok("POST", `/scenarios/${s.scenarioId}/stop`);
      return { status: "sent", emailId: 0 };
    });
    expect(await processDue(withMailer(engine, stopper))).toMatchObject({ claimed: 1, done: 1 });
    expect(await recordActivityOf(s.scenarioId, s.activity.Mail as string, kept)).toMatchObject({ state: "done" });
    expect(await recordActivityOf(s.scenarioId, s.activity.Next as string, kept)).toMatchObject({ state: "waiting" });
    expect(await ok("GET", `/activities/${s.activity.Mail}`)).toMatchObject({ record_count: 1, waiting_count: 0 });
  });

  it("an open recorded while the claim holds the e-mail's record activity is kept by the commit", async () => {
    const [id] = PARTIES.slice(60, 61) as [string];
    const { scenarioId, activity } = await running(
      "Open during send",
      [id],
      [
        { name: "Mail", ...sendEmail },
        { name: "Opened", parent: "Mail", on: "email_opened", delay: "P1D" },
      ],
    );
    const t0 = Date.now();
    const { claimed } = await claimAt("open-during", t0);
    const held = claimed[0] as Claimed;
    expect((await stored(scenarioId))[0]?.state).toBe("waiting");
    const r = await api("POST", `/record-activities/${held.id}/opened`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ state: "running", email_opened: true, changed: true });
    await commitClaim(testEngine().engine, "open-during", claimed, [{ id: held.id, state: "done" }], t0 + 1);
    expect(await recordActivityOf(scenarioId, activity.Mail as string, id)).toMatchObject({
      state: "done",
      email_opened: true,
    });
    const opened = await recordActivityOf(scenarioId, activity.Opened as string, id);
    expect(opened?.state).toBe("waiting");
    expect(opened?.at).not.toBeNull();
  });

  it("rows running under a claim made before the upgrade are taken over once it lapses, their attempt counted once", async () => {
    const ids = PARTIES.slice(70, 72);
    const { scenarioId, activity } = await running("Upgrade", ids, [{ name: "Mail", ...sendEmail }]);
    const t0 = Date.now();
    await legacyDeadClaim("scenario_id = ?", [scenarioId], t0 + CLAIM_TIMEOUT_MS);
    const mailer = new ScriptedMailer();
    const { engine } = testEngine();
    expect(await processDue(withMailer(engine, mailer))).toMatchObject({ claimed: 0 });
    expect((await recordActivities(scenarioId)).map((r) => r.state)).toEqual(["running", "running"]);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(t0 + CLAIM_TIMEOUT_MS + 1);
    expect(await processDue(withMailer(engine, mailer))).toMatchObject({ claimed: 2, done: 2 });
    expect(mailer.jobs.map((j) => j.attempt)).toEqual([2, 2]);
    for (const id of ids) {
      expect(await recordActivityOf(scenarioId, activity.Mail as string, id)).toMatchObject({
        state: "done",
        attempts: 2,
      });
    }
    expect((await stored(scenarioId)).every((r) => r.claim_key === null)).toBe(true);
  });
});
