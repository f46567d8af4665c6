import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { sendEmail } from "../../src/actions/send-email";
import { timelinePage } from "../../src/console/data";
import { EMAIL_SEQUENCE_BASE } from "../../src/email/archive-ids";
import { createMailer } from "../../src/email/mailer";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue, retryDelay } from "../../src/engine/execution/execute";
import { listEmails } from "../../src/engine/runs/emails";
import type { Bindings } from "../../src/env";
import { buildServices, withMailer } from "../../src/services";
import { buildScenario, ScriptedMailer, testEngine } from "../engine/fixtures";
import { api, ok } from "../helpers";

const mailchannels = {
  ...(env as unknown as Bindings),
  MAIL_TRANSPORT: "mailchannels",
  MAILCHANNELS_API_KEY: "test-key",
} as Bindings;

interface Step {
  ra: number;
  sr: number;
}

const PARTIES = ["ann", "bob", "dan", "eve"];
let scenarioId: string;
let activityId: string;
let steps: Record<string, Step>;
/** The archive ids of each party's e-mails, newest first. */
let emailsOf: Record<string, number[]>;
/** The provider's calls, per address. */
const calls = new Map<string, number>();

afterEach(() => {
  vi.useRealTimers();
});

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: PARTIES.map((id) => ({ id, name: id, email: `${id}@example.com` })),
  });
  const built = await buildScenario({ name: "Ids", model: "party", domain: [["id", "in", PARTIES]] }, [
    {
      name: "Mail",
      action: "send_email",
      email_title: "Hi",
      email_template: '<p><a href="https://shop.example/">Shop</a></p>',
    },
  ]);
  scenarioId = built.scenarioId;
  activityId = built.activity.Mail as string;
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
  const { engine } = testEngine();
  await enroll(engine, { scenarioId: Number(scenarioId) });
  const { results } = await env.DB.prepare(
    `SELECT sr.record_id AS party, ra.id AS ra, sr.id AS sr FROM record_activities ra
     JOIN scenario_records sr ON sr.id = ra.scenario_record_id WHERE ra.activity_id = ?`,
  )
    .bind(activityId)
    .all<{ party: string; ra: number; sr: number }>();
  steps = Object.fromEntries(results.map((r) => [r.party, { ra: r.ra, sr: r.sr }]));
  // Archived before: an e-mail of eve's record activity, sent, whose id is dan's record activity's number.
  await env.DB.prepare(
    `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, attempt, sent_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'eve@example.com', 'm@example.com', 'Hi', '<legacy>', '{}', 'local', 'sent', 'k', 1,
       ?6, ?6)`,
  )
    .bind(steps.dan?.ra, steps.eve?.ra, scenarioId, activityId, steps.eve?.sr, Date.now())
    .run();
  // Bob's first call fails (a retry); every other call is accepted.
  vi.spyOn(globalThis, "fetch").mockImplementation(async (_input, init) => {
    const to = JSON.parse(String(init?.body)).personalizations[0].to[0].email as string;
    const n = (calls.get(to) ?? 0) + 1;
    calls.set(to, n);
    if (to === "bob@example.com" && n === 1) return new Response("upstream error", { status: 500 });
    return new Response(null, { status: 202 });
  });
  vi.useFakeTimers({ toFake: ["Date"] });
  let now = Date.now();
  for (let round = 0; round < 3; round++) {
    vi.setSystemTime(now);
    while ((await processDue(withMailer(engine, createMailer(mailchannels)))).more) {
      // drain
    }
    now += retryDelay(1, null) + 60_000;
  }
  vi.useRealTimers();
  vi.restoreAllMocks();
  emailsOf = {};
  for (const party of PARTIES) {
    const { results: rows } = await env.DB.prepare(
      "SELECT id FROM email_archive WHERE record_activity_id = ? ORDER BY id DESC",
    )
      .bind(steps[party]?.ra)
      .all<{ id: number }>();
    emailsOf[party] = rows.map((r) => r.id);
  }
});

const ra = (party: string) => steps[party]?.ra as number;

/** What these tests read: first attempts under their record activity's id, the others from the sequence. */
const idsAreMixed = () =>
  emailsOf.ann?.[0] === ra("ann") &&
  emailsOf.bob?.[1] === ra("bob") &&
  (emailsOf.bob?.[0] ?? 0) >= EMAIL_SEQUENCE_BASE &&
  (emailsOf.dan?.[0] ?? 0) >= EMAIL_SEQUENCE_BASE;

describe("e-mails found by their record activity, whatever their id", () => {
  it("a first attempt has its record activity's id; a retry, an id taken or an e-mail archived before take others", () => {
    expect(emailsOf.ann).toEqual([ra("ann")]);
    expect(emailsOf.bob).toHaveLength(2);
    expect(emailsOf.bob?.[0]).toBeGreaterThanOrEqual(EMAIL_SEQUENCE_BASE);
    expect(emailsOf.bob?.[1]).toBe(ra("bob"));
    // Dan's number was held by eve's old e-mail.
    expect(emailsOf.dan).toHaveLength(1);
    expect(emailsOf.dan?.[0]).toBeGreaterThanOrEqual(EMAIL_SEQUENCE_BASE);
    expect(emailsOf.eve).toEqual([ra("dan")]);
  });

  it("the already-sent check finds an e-mail sent under another id: it is never sent again", async () => {
    // Bob's and dan's sent e-mails have sequence ids; eve's was archived before, under dan's number.
    expect(idsAreMixed()).toBe(true);
    expect(calls.get("eve@example.com")).toBeUndefined();
    expect(calls.get("bob@example.com")).toBe(2);
    const mailer = new ScriptedMailer();
    const engine = testEngine().engine;
    const action = sendEmail(() => mailer);
    const job = (party: string) =>
      ({ recordActivityId: ra(party), attempt: 3, activity: { settings: {} } }) as unknown as Parameters<
        typeof action.execute
      >[0][number];
    const outcomes = await action.execute([job("bob"), job("dan"), job("eve")], { engine, now: Date.now() });
    expect(outcomes.map((o) => o.status)).toEqual(["done", "done", "done"]);
    expect(mailer.jobs).toEqual([]);
  });

  it("the API's record_activity_id filter and the timeline show every e-mail of a record activity", async () => {
    expect(idsAreMixed()).toBe(true);
    for (const party of PARTIES) {
      const page = await ok("GET", `/emails?record_activity_id=${ra(party)}`);
      expect(page.items.map((m: { id: string }) => Number(m.id))).toEqual(emailsOf[party]);
      const timeline = await timelinePage(testEngine().engine, steps[party]?.sr as number);
      const shown = timeline.steps.flatMap((s) => s.emails.map((m) => m.id));
      expect(shown).toEqual([...(emailsOf[party] as number[])].reverse());
    }
  });

  it("lists by scenario and by activity page by record activity, newest first, without duplicates or gaps", async () => {
    expect(idsAreMixed()).toBe(true);
    const expected = PARTIES.map((p) => ({ ra: ra(p), ids: emailsOf[p] as number[] }))
      .sort((a, b) => b.ra - a.ra)
      .flatMap((p) => p.ids);
    expect(expected).toHaveLength(5);
    for (const filter of [`scenario_id=${scenarioId}`, `activity_id=${activityId}`]) {
      for (const limit of [1, 2, 5]) {
        const seen: number[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 10; pages++) {
          const res = await api("GET", `/emails?${filter}&limit=${limit}${cursor ? `&cursor=${cursor}` : ""}`);
          expect(res.status).toBe(200);
          seen.push(...res.body.items.map((m: { id: string }) => Number(m.id)));
          cursor = res.body.next_cursor;
          if (cursor === null) break;
          expect(cursor).toMatch(/^[1-9][0-9]*-(0|[1-9][0-9]*)$/);
        }
        expect(seen).toEqual(expected);
      }
    }
    expectCursorRejected(await api("GET", `/emails?scenario_id=${scenarioId}&cursor=12`));
  });

  it("a page by scenario reads a bounded number of record activities, and its cursor goes on from there", async () => {
    const seen: number[] = [];
    const engine = testEngine().engine;
    let cursor: string | null = null;
    // Two record activities a page: pages may be short, and still cover every e-mail once.
    do {
      const page = await listEmails(engine, {
        scenarioId: Number(scenarioId),
        limit: 100,
        cursor,
        recordActivities: 2,
      });
      seen.push(...page.items.map((m) => m.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect([...seen].sort()).toEqual(Object.values(emailsOf).flat().sort());
    expect(new Set(seen).size).toBe(5);
  });

  it("reads through the indexes: no scan of the e-mails or the record activities", async () => {
    const seen: { sql: string; params: unknown[] }[] = [];
    const recording = {
      prepare: (sql: string) => {
        const stmt = env.DB.prepare(sql);
        return new Proxy(stmt, {
          get(target, prop) {
            if (prop === "bind")
              return (...params: unknown[]) => {
                seen.push({ sql, params });
                return target.bind(...params);
              };
            const value = Reflect.get(target, prop);
            return typeof value === "function" ? value.bind(target) : value;
          },
        });
      },
      batch: (s: D1PreparedStatement[]) => env.DB.batch(s),
    } as unknown as D1Database;
    const engine = buildServices({ ...(env as unknown as Bindings), DB: recording }, { wake: async () => {} });
    await listEmails(engine, { scenarioId: Number(scenarioId), limit: 2, cursor: `${ra("bob")}-0` });
    await listEmails(engine, { activityId: Number(activityId), limit: 100, cursor: null });
    expect(seen.length).toBeGreaterThan(0);
    for (const { sql, params } of seen) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail);
      expect(details.filter((d) => /^SCAN (emails|record_activities)\b/.test(d))).toEqual([]);
      // A read of the scenario's record activities goes through the partial index of the older ones (their arm).
      if (sql.includes("scenario_record_id < 4294967296")) {
        expect(details.some((d) => d.includes("record_activities_scenario_legacy"))).toBe(true);
      }
    }
  });
});

function expectCursorRejected(res: { status: number; body: { error?: { message?: string } } }) {
  expect(res.status).toBe(400);
  expect(JSON.stringify(res.body)).toContain("cursor");
}
