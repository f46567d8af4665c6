import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, MAX_ATTEMPTS, processDue, retryDelay } from "../../../src/engine/execution/execute";
import type { Bindings } from "../../../src/env";
import { withMailer } from "../../../src/services";
import { derivedUnsubscribeSecret } from "../../../src/signing/tokens";
import { api, ok } from "../../helpers";
import {
  buildScenario,
  deadClaim,
  recordActivities,
  recordActivityOf,
  ScriptedMailer,
  sendEmail,
  sent,
  testEngine,
} from "../fixtures";

const DAY = 86_400_000;
const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "michael", name: "Michael Scott", email: "michael@example.com", lang: "en" },
      { id: "jan", name: "Jan Levinson", email: "jan@example.com", lang: "fr" },
    ],
  });
});

afterEach(() => {
  vi.useRealTimers();
});

/** A running scenario over the given parties, enrolled; the deferred enrollment of `run` is bypassed. */
async function running(name: string, ids: string[], activities: Parameters<typeof buildScenario>[1]) {
  const built = await buildScenario({ name, model: "party", domain: [["id", "in", ids]] }, activities);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  return built;
}

async function processAll(mailer: ScriptedMailer) {
  const { engine, wakes } = testEngine();
  const counts = await processDue(withMailer(engine, mailer));
  return { counts, wakes };
}

describe("execution", () => {
  it("runs what is due, creates children, and leaves what is not due", async () => {
    const { scenarioId, activity } = await running(
      "Tree",
      ["michael"],
      [
        { name: "Mail", ...sendEmail },
        { name: "Reminder", parent: "Mail" },
        { name: "Opened", parent: "Mail", on: "email_opened" },
        { name: "Not opened", parent: "Mail", on: "email_not_opened", delay: "P2D" },
        { name: "Tomorrow", delay: "P1D" },
      ],
    );
    const mailer = new ScriptedMailer();
    const { counts, wakes } = await processAll(mailer);
    expect(counts).toMatchObject({ claimed: 1, done: 1 });
    expect(mailer.jobs).toHaveLength(1);
    expect(mailer.jobs[0]).toMatchObject({
      attempt: 1,
      record: { model: "party", id: "michael", fields: { name: "Michael Scott" } },
      party: { id: "michael", fields: { email: "michael@example.com" } },
      activity: { name: "Mail", emailTitle: "Hi {{party.name}}" },
      scenario: { name: "Tree" },
    });
    expect(mailer.jobs[0]?.scenarioRecord.token).toMatch(/^[1-9][0-9]*-[0-9a-f]{32}$/);
    // The scenario record stores no token: its secret half is derived from its id under TRACKING_SECRET.
    const record = await env.DB.prepare("SELECT id, token FROM scenario_records WHERE scenario_id = ?")
      .bind(Number(scenarioId))
      .first<{ id: number; token: string }>();
    expect(record?.token).toBe("");
    expect(mailer.jobs[0]?.scenarioRecord.token).toBe(
      `${record?.id}-${await derivedUnsubscribeSecret(SECRET, record?.id as number)}`,
    );

    const mail = await recordActivityOf(scenarioId, activity.Mail as string, "michael");
    expect(mail).toMatchObject({ state: "done", attempts: 1, reason: null });
    const opened = await recordActivityOf(scenarioId, activity.Opened as string, "michael");
    expect(opened).toMatchObject({ state: "waiting", at: null, reason: "waiting for the e-mail to be opened" });
    const notOpened = await recordActivityOf(scenarioId, activity["Not opened"] as string, "michael");
    expect(Date.parse(notOpened?.at as string) - Date.parse(mail?.at as string)).toBe(2 * DAY);
    expect(wakes.some((w) => Math.abs(w.at - Date.parse(notOpened?.at as string)) < 1)).toBe(true);
    expect((await recordActivityOf(scenarioId, activity.Tomorrow as string, "michael"))?.state).toBe("waiting");

    // The reminder (no delay) is due now: the next pass runs it; nothing else is due.
    const next = await processAll(mailer);
    expect(next.counts).toMatchObject({ claimed: 1, done: 1 });
    expect((await recordActivityOf(scenarioId, activity.Reminder as string, "michael"))?.state).toBe("done");
    expect((await processAll(mailer)).counts.claimed).toBe(0);
    expect(mailer.jobs).toHaveLength(1);
  });

  it("email_not_X runs after its delay and cancels its waiting email_X sibling", async () => {
    const { scenarioId, activity } = await running(
      "Not clicked",
      ["michael"],
      [
        { name: "Mail", ...sendEmail },
        { name: "Clicked", parent: "Mail", on: "email_clicked" },
        { name: "Not clicked", parent: "Mail", on: "email_not_clicked", delay: "P2D" },
      ],
    );
    const mailer = new ScriptedMailer();
    await processAll(mailer);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 2 * DAY + 1_000);
    // (Earlier tests' delayed activities in this file are due by now too.)
    expect((await processAll(mailer)).counts.done).toBeGreaterThanOrEqual(1);
    expect(await recordActivityOf(scenarioId, activity["Not clicked"] as string, "michael")).toMatchObject({
      state: "done",
    });
    const clicked = await recordActivityOf(scenarioId, activity.Clicked as string, "michael");
    expect(clicked?.state).toBe("cancelled");
    expect(clicked?.reason).toContain("did not happen in time");
    // A late click resurrects nothing.
    const mail = await recordActivityOf(scenarioId, activity.Mail as string, "michael");
    await ok("POST", `/record-activities/${mail?.id}/clicked`);
    expect((await recordActivityOf(scenarioId, activity.Clicked as string, "michael"))?.state).toBe("cancelled");
  });

  it("a condition false at execution cancels with a reason and creates no children", async () => {
    const { scenarioId, activity } = await running(
      "Condition",
      ["michael", "jan"],
      [
        { name: "French mail", ...sendEmail, condition: [["lang", "=", "fr"]], delay: "PT1M" },
        { name: "After", parent: "French mail" },
      ],
    );
    // Jan moves to English before the activity is due: the condition is checked as the record is now.
    await ok("PUT", "/records/party/jan", { name: "Jan Levinson", email: "jan@example.com", lang: "en" });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000);
    const mailer = new ScriptedMailer();
    const { counts } = await processAll(mailer);
    expect(counts).toMatchObject({ claimed: 1, cancelled: 1 });
    expect(mailer.jobs).toHaveLength(0);
    const ra = await recordActivityOf(scenarioId, activity["French mail"] as string, "jan");
    expect(ra).toMatchObject({ state: "cancelled", reason: "the record does not match the condition" });
    expect(await recordActivities(scenarioId, `&activity_id=${activity.After}`)).toHaveLength(0);
    await ok("PUT", "/records/party/jan", { name: "Jan Levinson", email: "jan@example.com", lang: "fr" });
  });

  it("a record deleted after enrollment is cancelled with that reason when due", async () => {
    await ok("PUT", "/records/party/ghost", { name: "Ghost", email: "ghost@example.com" });
    const { scenarioId, activity } = await running("Deleted", ["ghost"], [{ name: "Mail", ...sendEmail }]);
    await ok("DELETE", "/records/party/ghost");
    const mailer = new ScriptedMailer();
    expect((await processAll(mailer)).counts.cancelled).toBe(1);
    expect(await recordActivityOf(scenarioId, activity.Mail as string, "ghost")).toMatchObject({
      state: "cancelled",
      reason: "the record was deleted",
    });
  });

  it("retries faults that may pass with backoff, then gives up; permanent faults fail at once", async () => {
    const { scenarioId, activity } = await running("Faults", ["michael", "jan"], [{ name: "Mail", ...sendEmail }]);
    const mailer = new ScriptedMailer((job) =>
      job.record.id === "jan"
        ? { status: "failed", error: "550 mailbox unavailable", emailId: null }
        : { status: "retry", error: "503 try later", retryAfterMs: null, emailId: null },
    );
    vi.useFakeTimers({ toFake: ["Date"] });
    let now = Date.now();
    vi.setSystemTime(now);
    const first = await processAll(mailer);
    expect(first.counts).toMatchObject({ claimed: 2, failed: 1, retried: 1 });
    expect(await recordActivityOf(scenarioId, activity.Mail as string, "jan")).toMatchObject({
      state: "failed",
      reason: "550 mailbox unavailable",
    });
    const waiting = await recordActivityOf(scenarioId, activity.Mail as string, "michael");
    expect(waiting).toMatchObject({ state: "waiting", reason: "retrying: 503 try later", attempts: 1 });
    expect(Date.parse(waiting?.at as string) - now).toBe(retryDelay(1, null));
    for (let attempt = 2; attempt <= MAX_ATTEMPTS; attempt++) {
      expect((await processAll(mailer)).counts.claimed).toBe(0);
      now += retryDelay(attempt - 1, null);
      vi.setSystemTime(now);
      expect((await processAll(mailer)).counts.claimed).toBe(1);
    }
    expect(await recordActivityOf(scenarioId, activity.Mail as string, "michael")).toMatchObject({
      state: "failed",
      attempts: MAX_ATTEMPTS,
      reason: `gave up after ${MAX_ATTEMPTS} attempts: 503 try later`,
    });
    expect(mailer.sentTo("michael")).toHaveLength(MAX_ATTEMPTS);
  });

  it("honours Retry-After when it asks for longer than the backoff", async () => {
    const { scenarioId, activity } = await running("Retry-After", ["michael"], [{ name: "Mail", ...sendEmail }]);
    const mailer = new ScriptedMailer(() => ({
      status: "retry",
      error: "429",
      retryAfterMs: 3_600_000,
      emailId: null,
    }));
    const before = Date.now();
    await processAll(mailer);
    const ra = await recordActivityOf(scenarioId, activity.Mail as string, "michael");
    expect(Date.parse(ra?.at as string) - before).toBeGreaterThanOrEqual(3_600_000 - 1_000);
  });

  it("two process passes at once execute each record activity once", async () => {
    const ids = Array.from({ length: 30 }, (_, i) => `c${i}`);
    await ok("POST", "/records/party/batch", {
      records: ids.map((id) => ({ id, name: id, email: `${id}@example.com` })),
    });
    await running("Concurrent", ids, [{ name: "Mail", ...sendEmail }]);
    const mailer = new ScriptedMailer(async () => {
      await new Promise((r) => setTimeout(r, 5));
      return sent();
    });
    const passes = await Promise.all([processAll(mailer), processAll(mailer), processAll(mailer)]);
    const claimed = passes.reduce((n, p) => n + p.counts.claimed, 0);
    expect(claimed).toBe(30);
    for (const id of ids) expect(mailer.sentTo(id)).toHaveLength(1);
    const http = await Promise.all([api("POST", "/jobs/process"), api("POST", "/jobs/process")]);
    expect(http.map((r) => r.body.claimed)).toEqual([0, 0]);
  });

  it("a claim whose Worker died is taken over after the timeout, without sending twice", async () => {
    const { scenarioId, activity } = await running("Dead worker", ["michael", "jan"], [{ name: "Mail", ...sendEmail }]);
    // Both are claimed by a Worker that then dies; it had delivered Michael's e-mail (archived as sent) but not Jan's.
    const claimedAt = Date.now();
    await deadClaim("scenario_id = ?", [scenarioId], claimedAt + CLAIM_TIMEOUT_MS);
    const michael = await recordActivityOf(scenarioId, activity.Mail as string, "michael");
    await env.DB.prepare(
      `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject, message_id,
         headers, transport, status, body_key, attempt, sent_at, created_at)
       VALUES (?, ?, ?, ?, 'michael@example.com', 'm@example.com', 'Hi', '<x@example.com>', '{}', 'local', 'sent', 'k', 1, ?, ?)`,
    )
      .bind(michael?.id, scenarioId, activity.Mail, michael?.scenario_record_id, claimedAt, claimedAt)
      .run();
    const mailer = new ScriptedMailer();
    expect((await processAll(mailer)).counts.claimed).toBe(0);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(claimedAt + CLAIM_TIMEOUT_MS + 1);
    expect((await processAll(mailer)).counts).toMatchObject({ claimed: 2, done: 2 });
    expect(mailer.sentTo("michael")).toHaveLength(0);
    expect(mailer.sentTo("jan")).toHaveLength(1);
    expect(mailer.sentTo("jan")[0]?.attempt).toBe(2);
  });

  it("a stopped scenario executes nothing and resumes when it runs again", async () => {
    const { scenarioId, activity } = await running("Kill switch", ["michael"], [{ name: "Step" }]);
    await ok("POST", `/scenarios/${scenarioId}/stop`);
    const mailer = new ScriptedMailer();
    expect((await processAll(mailer)).counts.claimed).toBe(0);
    expect(await recordActivityOf(scenarioId, activity.Step as string, "michael")).toMatchObject({ state: "waiting" });
    // Running again wakes the scheduler, whose alarm may execute it before this pass does: either way, once.
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await processAll(mailer);
    expect(await recordActivityOf(scenarioId, activity.Step as string, "michael")).toMatchObject({
      state: "done",
      attempts: 1,
    });
  });

  it("a blocked record is skipped and resumes when unblocked", async () => {
    const { scenarioId, activity } = await running("Blocked", ["michael"], [{ name: "Step" }]);
    const sr = (await ok("GET", `/scenarios/${scenarioId}/records`)).items[0];
    expect((await ok("POST", `/scenario-records/${sr.id}/block`)).blocked).toBe(true);
    expect((await ok("POST", `/scenario-records/${sr.id}/block`)).blocked).toBe(true);
    const mailer = new ScriptedMailer();
    expect((await processAll(mailer)).counts.claimed).toBe(0);
    expect((await ok("GET", `/scenarios/${scenarioId}`)).record_count_blocked).toBe(1);
    expect((await ok("GET", `/scenarios/${scenarioId}`)).block_rate).toBe(1);
    expect((await ok("POST", `/scenario-records/${sr.id}/unblock`)).blocked).toBe(false);
    await processAll(mailer);
    expect(await recordActivityOf(scenarioId, activity.Step as string, "michael")).toMatchObject({
      state: "done",
      attempts: 1,
    });
  });

  it("an activity without action is done and runs its children", async () => {
    const { scenarioId, activity } = await running(
      "No action",
      ["michael"],
      [{ name: "Wait" }, { name: "Then", parent: "Wait" }],
    );
    const mailer = new ScriptedMailer();
    await processAll(mailer);
    await processAll(mailer);
    expect(await recordActivityOf(scenarioId, activity.Then as string, "michael")).toMatchObject({ state: "done" });
    expect(mailer.jobs).toHaveLength(0);
  });
});
