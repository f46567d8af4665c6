import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { meteredD1 } from "../../src/bench/meter";
import { TAKEN_OVER_BEFORE_DELIVERY } from "../../src/email/archive";
import { createMailer } from "../../src/email/mailer";
import { reconcileAbandoned } from "../../src/email/staged";
import { enroll } from "../../src/engine/enrollment/enroll";
import { CLAIM_TIMEOUT_MS, processDue } from "../../src/engine/execution/execute";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { forgetLinks } from "../../src/tracking/links";
import { recordingD1 } from "../db/recording-d1";
import { buildScenario, recordActivityOf } from "../engine/fixtures";
import { ok } from "../helpers";
import { request } from "../tracking/fixtures";
import { bindings, job } from "./fixtures";

/**
 * The archive row of an e-mail is written once, after delivery, with its outcome; until then it is staged in the
 * claim that holds its record activity (docs/email.md, "Archive lifecycle").
 */

const mailchannels = { ...bindings, MAIL_TRANSPORT: "mailchannels", MAILCHANNELS_API_KEY: "k" } as Bindings;
const accepted = () => new Response(null, { status: 202 });

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const template =
  '<p>Hi <a href="https://shop.example/cart">Cart</a> <a href="unsubscribe|https://shop.example/bye">Leave</a></p>';

/** A running scenario with one e-mail (a link and an unsubscribe link with a next page) to party `id`, enrolled. */
async function enrolled(name: string, id: string) {
  await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com` });
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", id]] }, [
    { name: "Mail", action: "send_email", email_title: "Hi", email_template: template },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(buildServices(bindings, { wake: async () => {} }), { scenarioId: Number(built.scenarioId) });
  const ra = await recordActivityOf(built.scenarioId, built.activity.Mail as string, id);
  return { ...built, raId: Number(ra?.id) };
}

const engineOver = (b: Bindings) => buildServices(b, { wake: async () => {} });

const emailsOf = async (raId: number) =>
  (
    await env.DB.prepare(
      "SELECT id, status, attempt, sent_at, provider_message_id, error FROM email_archive WHERE record_activity_id = ? ORDER BY id",
    )
      .bind(raId)
      .all<{
        id: number;
        status: string;
        attempt: number;
        sent_at: number | null;
        provider_message_id: string | null;
        error: string | null;
      }>()
  ).results;

/** The ids of the e-mails staged in claims for a record activity. */
const stagedIds = async (raId: number) =>
  (
    await env.DB.prepare(
      `SELECT json_extract(j.value, '$.id') AS id FROM claims c, json_each(c.staged) j
       WHERE c.staged IS NOT NULL AND json_extract(j.value, '$.ra') = ?`,
    )
      .bind(raId)
      .all<{ id: number }>()
  ).results.map((r) => r.id);

/** The tracking paths written into a MailChannels request's HTML. */
function trackingPaths(init: RequestInit | undefined) {
  const body = String(init?.body ?? "");
  return {
    click: /\/l\/([A-Za-z0-9_-]+)/.exec(body)?.[1] as string,
    unsubscribe: /\/u\/([A-Za-z0-9_-]+\/[A-Za-z0-9_-]+)/.exec(body)?.[1] as string,
  };
}

describe("the archive row written once", () => {
  it("the mailer stages a claim's e-mails and their outcomes, writing no archive row", async () => {
    const jobs = [job(), job(), job()];
    const key = "meter-claim";
    await env.DB.prepare("INSERT INTO claims (key, shard, until, ids, created_at) VALUES (?, 0, ?, ?, ?)")
      .bind(key, Date.now() + CLAIM_TIMEOUT_MS, JSON.stringify(jobs.map((j) => j.recordActivityId)), Date.now())
      .run();
    const { db, totals } = meteredD1(env.DB);
    const outcomes = await createMailer({ ...bindings, DB: db }).sendBatch(jobs, Date.now(), key);
    expect(outcomes.map((o) => o.status)).toEqual(["sent", "sent", "sent"]);
    const staged = await env.DB.prepare(
      `SELECT json_extract(j.value, '$.st') AS st, json_extract(j.value, '$.pid') AS pid
       FROM claims c, json_each(c.staged) j WHERE c.key = ?`,
    )
      .bind(key)
      .all<{ st: string; pid: string | null }>();
    expect(staged.results).toEqual(Array(3).fill({ st: "sent", pid: expect.any(String) }));
    // One claims row written to stage the batch, once more for the outcomes; nothing of the archive's own yet.
    expect(totals.writtenBy["UPDATE claims"]).toBe(2);
    expect(
      Object.entries(totals.writtenBy).filter(([s, n]) => / (emails|record_activities)$/.test(s) && n > 0),
    ).toEqual([]);
    await env.DB.prepare("DELETE FROM claims WHERE key = ?").bind(key).run();
  });

  it("a first attempt is archived on its record activity's row, in the commit's one write of it", async () => {
    const built = await Promise.all(["once1", "once2", "once3"].map((id) => enrolled(`Once ${id}`, id)));
    const { db, totals } = meteredD1(env.DB);
    let n = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () =>
      Response.json({ request_id: `req-${Date.now()}-${n++}` }, { status: 202 }),
    );
    expect(await processDue(engineOver({ ...mailchannels, DB: db }))).toMatchObject({ claimed: 3, done: 3 });
    for (const { raId } of built) {
      expect(await emailsOf(raId)).toEqual([
        expect.objectContaining({ id: raId, status: "sent", attempt: 1, provider_message_id: expect.any(String) }),
      ]);
    }
    // Each record activity's row once (the commit: its state and its e-mail), and its provider id's entry: 2 an e-mail.
    // No `emails` row at all.
    expect(totals.writtenBy["UPDATE record_activities"]).toBe(3 * 2);
    expect(Object.entries(totals.writtenBy).filter(([s, n]) => / emails$/.test(s) && n > 0)).toEqual([]);
  });

  it("a click, and an unsubscribe's next page, between the delivery and the archive's insert still resolve", async () => {
    const { raId } = await enrolled("Staged click", "staged1");
    const seen: { archived: number; click: Response; fallbackOnPrimary: boolean; next: Response }[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (_url, init) => {
      // The transport has the e-mail: it is staged in the claim, not in the archive yet.
      const [staged] = await stagedIds(raId);
      const archived = (await emailsOf(raId)).length;
      const paths = trackingPaths(init);
      forgetLinks();
      const recording = recordingD1(env.DB);
      const click = await request(`/l/${paths.click}`, { env: { DB: recording.db } });
      const fallbackOnPrimary =
        staged !== undefined &&
        recording.seen.onBinding.some((s) => /FROM claims c, json_each\(c\.staged\)/.test(s)) &&
        !recording.seen.onSession.some((s) => /FROM claims/.test(s));
      const next = await request(`/u/${paths.unsubscribe}`, { method: "POST" });
      seen.push({ archived, click, fallbackOnPrimary, next });
      return accepted();
    });
    expect(await processDue(engineOver(mailchannels))).toMatchObject({ claimed: 1, done: 1 });
    expect(seen).toHaveLength(1);
    const [during] = seen as [(typeof seen)[number]];
    expect(during.archived).toBe(0);
    expect(during.click.status).toBe(302);
    expect(during.click.headers.get("location")).toBe("https://shop.example/cart");
    expect(during.fallbackOnPrimary).toBe(true);
    expect(during.next.status).toBe(303);
    expect(during.next.headers.get("location")).toBe("https://shop.example/bye");
    // Archived once, after the delivery, and the claim is gone with what it staged.
    expect(await emailsOf(raId)).toMatchObject([{ status: "sent", attempt: 1, sent_at: expect.any(Number) }]);
    expect(await stagedIds(raId)).toEqual([]);
    const hits = await env.DB.prepare("SELECT kind FROM hits WHERE record_activity_id = ? ORDER BY id")
      .bind(raId)
      .all<{ kind: string }>();
    expect(hits.results.map((h) => h.kind)).toContain("click");
  });

  it("a confirmation posted between the delivery and the archive's insert is judged too soon, as a scanner's", async () => {
    await ok("PUT", "/records/party/staged6", { name: "staged6", email: "staged6@example.com" });
    const built = await buildScenario({ name: "Staged opt-in", model: "party", domain: [["id", "=", "staged6"]] }, [
      { name: "Confirm", action: "send_email", email_title: "Confirm", email_template: '<a href="confirm">Yes</a>' },
      { name: "Welcome", parent: "Confirm", on: "subscription_confirmed", delay: "PT1H" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running', double_opt_in = 1 WHERE id = ?")
      .bind(Number(built.scenarioId))
      .run();
    await enroll(engineOver(bindings), { scenarioId: Number(built.scenarioId) });
    const raId = Number((await recordActivityOf(built.scenarioId, built.activity.Confirm as string, "staged6"))?.id);
    const during: { archived: number; page: string }[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (_url, init) => {
      const token = /\/c\/([A-Za-z0-9_-]+)/.exec(String(init?.body ?? ""))?.[1] as string;
      const res = await request(`/c/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "",
      });
      during.push({ archived: (await emailsOf(raId)).length, page: await res.text() });
      return accepted();
    });
    expect(await processDue(engineOver(mailchannels))).toMatchObject({ done: 1 });
    expect(during).toHaveLength(1);
    expect(during[0]?.archived).toBe(0);
    // Not confirmed: the page still asks, and the hit is a machine's, too soon after delivery.
    expect(during[0]?.page).toContain("Confirm my subscription");
    expect((await ok("GET", `/scenarios/${built.scenarioId}/confirmations`)).items).toEqual([]);
    const hits = await env.DB.prepare("SELECT human, reason FROM hits WHERE kind = 'confirm' AND scenario_id = ?")
      .bind(Number(built.scenarioId))
      .all<{ human: number; reason: string }>();
    expect(hits.results).toEqual([{ human: 0, reason: "too_soon_after_delivery" }]);
  });

  it("a Worker that dies after staging: the takeover archives the attempt abandoned and sends it again, once", async () => {
    const { raId } = await enrolled("Staged death", "staged2");
    let deliveries = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(() => {
      deliveries++;
      // The Worker dies while the transport has the e-mail: no answer ever comes.
      return new Promise<Response>(() => {});
    });
    const claimedAt = Date.now();
    void processDue(engineOver(mailchannels));
    await vi.waitFor(async () => expect(deliveries).toBe(1));
    // What the dead Worker left: its attempt staged in its claim, nothing in the archive.
    expect(await emailsOf(raId)).toEqual([]);
    expect(await stagedIds(raId)).toHaveLength(1);

    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(claimedAt + CLAIM_TIMEOUT_MS + 1_000);
    // The takeover uses the local transport (it answers at once).
    expect(await processDue(engineOver(bindings))).toMatchObject({ claimed: 1, done: 1 });
    const rows = await emailsOf(raId);
    expect(rows.map((r) => [r.status, r.attempt])).toEqual([
      ["abandoned", 1],
      ["sent", 2],
    ]);
    expect(rows[0]?.error).toContain("not known to be delivered");
    expect(await stagedIds(raId)).toEqual([]);
    // Nothing is sent again: the record activity is done, with its e-mail archived sent.
    vi.setSystemTime(claimedAt + 3 * CLAIM_TIMEOUT_MS);
    expect(await processDue(engineOver(bindings))).toMatchObject({ claimed: 0 });
    expect(deliveries).toBe(1);
    expect((await emailsOf(raId)).filter((r) => r.status === "sent")).toHaveLength(1);
  });

  it("a Worker only slow past its claim still archives its outcome over the takeover's abandoned row", async () => {
    const { raId } = await enrolled("Staged slow", "staged5");
    let answer: (r: Response) => void = () => {};
    vi.spyOn(globalThis, "fetch").mockImplementation(() => new Promise<Response>((resolve) => (answer = resolve)));
    const claimedAt = Date.now();
    const slow = processDue(engineOver(mailchannels));
    await vi.waitFor(async () => expect(await stagedIds(raId)).toHaveLength(1));
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(claimedAt + CLAIM_TIMEOUT_MS + 1_000);
    expect(await processDue(engineOver(bindings))).toMatchObject({ claimed: 1, done: 1 });
    expect((await emailsOf(raId)).map((r) => r.status)).toEqual(["abandoned", "sent"]);
    // The first transport answers at last: that attempt was delivered after all, and its row says so.
    answer(accepted());
    await slow;
    expect((await emailsOf(raId)).map((r) => [r.status, r.attempt])).toEqual([
      ["sent", 1],
      ["sent", 2],
    ]);
  });

  it("a Worker that dies after staging a claim nobody takes over: the sweep archives the attempt abandoned", async () => {
    const { scenarioId, raId } = await enrolled("Staged sweep", "staged3");
    vi.spyOn(globalThis, "fetch").mockImplementation(() => new Promise<Response>(() => {}));
    const claimedAt = Date.now();
    void processDue(engineOver(mailchannels));
    await vi.waitFor(async () => expect(await stagedIds(raId)).toHaveLength(1));
    await ok("POST", `/scenarios/${scenarioId}/stop`);
    expect(await reconcileAbandoned(env.DB, claimedAt + 60_000, CLAIM_TIMEOUT_MS)).toBe(0);
    expect(await emailsOf(raId)).toEqual([]);
    const lapsed = claimedAt + CLAIM_TIMEOUT_MS + 1_000;
    expect(await reconcileAbandoned(env.DB, lapsed, CLAIM_TIMEOUT_MS)).toBe(1);
    expect(await emailsOf(raId)).toMatchObject([{ status: "abandoned", attempt: 1, sent_at: null }]);
    expect(await reconcileAbandoned(env.DB, lapsed + 1, CLAIM_TIMEOUT_MS)).toBe(0);
    expect(await emailsOf(raId)).toHaveLength(1);
  });

  it("a Worker whose claim was taken over before it staged its batch delivers nothing of it", async () => {
    const calls: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (url) => {
      calls.push(String(url));
      return accepted();
    });
    const lost = job();
    // The claim holds nothing any more (taken over): staging finds no claims row listing the record activity.
    const [outcome] = await createMailer(mailchannels).sendBatch([lost], Date.now(), "a-claim-taken-over");
    expect(outcome).toMatchObject({ status: "retry", error: TAKEN_OVER_BEFORE_DELIVERY });
    expect(calls).toEqual([]);
    expect(await emailsOf(lost.recordActivityId)).toEqual([]);
  });

  it("a slow Worker whose staged row the sweep archived abandoned, and whose archive insert then failed: its commit says sent", async () => {
    const { scenarioId, raId } = await enrolled("Staged slow sweep", "staged7");
    let answer: (r: Response) => void = () => {};
    let delivered = false;
    vi.spyOn(globalThis, "fetch").mockImplementation(
      () =>
        new Promise<Response>((resolve) => {
          answer = (r) => {
            delivered = true;
            resolve(r);
          };
        }),
    );
    let failed = false;
    const flaky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            if (delivered && !failed) {
              failed = true;
              throw new Error("D1_ERROR: Network connection lost.");
            }
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const claimedAt = Date.now();
    const slow = processDue(engineOver({ ...mailchannels, DB: flaky } as Bindings));
    await vi.waitFor(async () => expect(await stagedIds(raId)).toHaveLength(1));
    await ok("POST", `/scenarios/${scenarioId}/stop`);
    expect(await reconcileAbandoned(env.DB, claimedAt + CLAIM_TIMEOUT_MS + 1_000, CLAIM_TIMEOUT_MS)).toBe(1);
    expect(await emailsOf(raId)).toMatchObject([{ status: "abandoned" }]);
    // The transport answers at last, the archive's insert fails, and the commit (still holding it) settles it.
    answer(accepted());
    await slow;
    expect(failed).toBe(true);
    expect(await emailsOf(raId)).toMatchObject([{ status: "sent", attempt: 1, error: null }]);
  });

  it("when the archive's insert fails after delivery, the commit inserts the staged row as sent", async () => {
    const { raId } = await enrolled("Staged commit", "staged4");
    let delivered = false;
    let archivedWhenFailed = -1;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      delivered = true;
      return accepted();
    });
    const flaky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "batch") {
          return async (statements: D1PreparedStatement[]) => {
            // The first batch after the delivery is the archive's insert: it fails.
            if (delivered && archivedWhenFailed === -1) {
              archivedWhenFailed = (await emailsOf(raId)).length;
              throw new Error("D1_ERROR: Network connection lost.");
            }
            return target.batch(statements);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    expect(await processDue(engineOver({ ...mailchannels, DB: flaky } as Bindings))).toMatchObject({ done: 1 });
    // Nothing was in the archive when its insert failed; the commit wrote the row, once, as sent.
    expect(archivedWhenFailed).toBe(0);
    expect(await emailsOf(raId)).toEqual([
      {
        id: expect.any(Number),
        status: "sent",
        attempt: 1,
        sent_at: expect.any(Number),
        provider_message_id: null,
        error: null,
      },
    ]);
    expect(await stagedIds(raId)).toEqual([]);
  });
});
