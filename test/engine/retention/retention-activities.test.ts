import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { CRON_SWEEP, runCron } from "../../../src/crons";
import { batchKey } from "../../../src/email/bodies";
import {
  DAY_MS,
  RETENTION_FLOOR_KEY,
  RETENTION_STEP,
  type RetainedLine,
  readRetained,
  retainedDay,
  retentionFloor,
  retentionSweep,
} from "../../../src/engine/retention/retention";
import type { Bindings } from "../../../src/env";
import worker from "../../../src/index";
import { unsubscribeSecretOf } from "../../../src/signing/tokens";
import { login } from "../../console/helpers";
import { api, expectError, ok, TOKEN } from "../../helpers";
import { buildScenario, sendEmail, testEngine } from "../fixtures";

/** Every row this file ages is 40 days old: outside a 30-day window, all on one UTC day. */
const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;
const OLD = Math.floor((Date.now() - 40 * DAY_MS) / DAY_MS) * DAY_MS + 12 * 3_600_000;
const OLD_DAY = new Date(OLD).toISOString().slice(0, 10);
const PARTIES = ["p1", "p2", "p3", "p4"];

type Row = Record<string, unknown> & { id: number };
const rowsOf = async (sql: string, ...params: unknown[]) =>
  (
    await env.DB.prepare(sql)
      .bind(...params)
      .all<Row>()
  ).results;
const byId = (rows: Row[]) => [...rows].sort((a, b) => a.id - b.id);

/** A request to the Worker with RETENTION_DAYS set (or not), as the deployment would answer it. */
async function retaining(path: string, options: { days?: string; cookie?: string } = {}) {
  const headers: Record<string, string> = options.cookie
    ? { cookie: options.cookie }
    : { authorization: `Bearer ${TOKEN}` };
  const res = await worker.fetch(
    new Request(`https://ma.example${path}`, { headers }),
    { ...env, RETENTION_DAYS: options.days ?? "30" } as never,
    createExecutionContext(),
  );
  return res;
}

let mailScenario: string;
let mail: Record<string, string>;
let doiScenario: string;
let doi: Record<string, string>;
/** The record activities of this file's scenarios by party and activity name, as D1 holds them before retention. */
const ra: Record<string, Row> = {};

const raOf = async (party: string, activityId: string) =>
  (
    await rowsOf(
      `SELECT ra.* FROM record_activities ra JOIN scenario_records sr ON sr.id = ra.scenario_record_id
       WHERE sr.record_id = ? AND ra.activity_id = ?`,
      party,
      Number(activityId),
    )
  )[0] as Row;

beforeAll(async () => {
  for (const id of [...PARTIES, "d1"])
    await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com` });
  ({ scenarioId: mailScenario, activity: mail } = await buildScenario(
    { name: "Retained mail", model: "party", domain: [["id", "in", PARTIES]] },
    [
      { name: "Mail", ...sendEmail },
      { name: "Opened", parent: "Mail", on: "email_opened" },
      { name: "Later", parent: "Mail" },
    ],
  ));
  ({ scenarioId: doiScenario, activity: doi } = await buildScenario(
    { name: "Retained opt-in", model: "party", domain: [["id", "=", "d1"]] },
    [
      { name: "Confirm", action: "send_email", email_title: "Confirm", email_template: '<a href="confirm">Yes</a>' },
      { name: "Welcome", parent: "Confirm", on: "subscription_confirmed" },
      { name: "Expired", parent: "Confirm", on: "subscription_not_confirmed", delay: "P90D" },
    ],
  ));
  await ok("PATCH", `/scenarios/${doiScenario}`, { double_opt_in: true });
  await ok("POST", `/scenarios/${mailScenario}/run`);
  await ok("POST", `/scenarios/${doiScenario}/run`);
  await ok("POST", "/jobs/enroll");
  for (let i = 0; i < 10; i++) if (!(await ok("POST", "/jobs/process")).more) break;

  // Everything that happened is 40 days old, but for p1's Later and a second attempt of p2's e-mail made today.
  await env.DB.prepare("UPDATE emails SET created_at = ?1, sent_at = ?1").bind(OLD).run();
  // First attempts are archived on their record activity's row.
  await env.DB.prepare(
    "UPDATE record_activities SET email_created_at = ?1, email_sent_at = ?1 WHERE email_status IS NOT NULL",
  )
    .bind(OLD)
    .run();
  await env.DB.prepare("UPDATE record_activities SET at = ?1 WHERE state != 'waiting'").bind(OLD).run();
  await env.DB.prepare(
    `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, body_offset, body_length, attempt, link_urls, sent_at, created_at)
     SELECT record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject, message_id || '.2',
       headers, transport, status, body_key, body_offset, body_length, 2, link_urls, ?1, ?1
     FROM email_archive WHERE "to" LIKE '%p2@%'`,
  )
    .bind(Date.now())
    .run();
  const p1Later = await raOf("p1", mail.Later as string);
  await env.DB.prepare("UPDATE record_activities SET at = ? WHERE id = ?")
    .bind(Date.now() - DAY_MS, p1Later.id)
    .run();
  // p3's Later is running (a claim), p4's Later was cancelled and its Mail failed: all 40 days ago.
  const p3Later = await raOf("p3", mail.Later as string);
  await env.DB.prepare("UPDATE record_activities SET state = 'running' WHERE id = ?").bind(p3Later.id).run();
  const p4Later = await raOf("p4", mail.Later as string);
  await env.DB.prepare("UPDATE record_activities SET state = 'cancelled' WHERE id = ?").bind(p4Later.id).run();
  const p4Mail = await raOf("p4", mail.Mail as string);
  await env.DB.prepare("UPDATE record_activities SET state = 'failed' WHERE id = ?").bind(p4Mail.id).run();
  // An open of p1's e-mail, and a hit with no e-mail that names p4's cancelled Later.
  const [p1Mail] = await rowsOf("SELECT * FROM email_archive WHERE \"to\" LIKE '%p1@%'");
  await env.DB.prepare(
    `INSERT INTO hits (kind, link_key, email_id, record_activity_id, scenario_id, activity_id, human, client, at)
     VALUES ('open', 'k', ?1, ?2, ?3, ?4, 1, 'Firefox', ?5), ('unsubscribe', NULL, NULL, ?6, ?3, ?7, 1, 'Firefox', ?5)`,
  )
    .bind(
      p1Mail?.id,
      p1Mail?.record_activity_id,
      Number(mailScenario),
      Number(mail.Mail),
      OLD,
      p4Later.id,
      Number(mail.Later),
    )
    .run();
  // The work was counted for reports on the day it happened (today); the rows were aged by hand, so their counts by
  // day are made again from the rows, as the commits of that day would have made them (and as the upgrade backfills).
  await env.DB.prepare("DELETE FROM activity_days").run();
  await env.DB.prepare(
    `INSERT INTO activity_days (activity_id, day, done, opened, clicked)
     SELECT activity_id, strftime('%Y-%m-%d', at / 1000, 'unixepoch'), count(*), sum(email_opened), sum(email_clicked)
     FROM record_activities WHERE state = 'done' GROUP BY 1, 2`,
  ).run();
  for (const p of PARTIES)
    for (const name of ["Mail", "Opened", "Later"]) ra[`${p} ${name}`] = await raOf(p, mail[name] as string);
  for (const name of ["Confirm", "Welcome", "Expired"]) ra[`d1 ${name}`] = await raOf("d1", doi[name] as string);
});

describe("retention of finished record activities", () => {
  it("exports finished record activities with their e-mails or on their own, keeps what can still change, and the export reads back complete", async () => {
    expect(ra["p1 Mail"]).toMatchObject({ state: "done", at: OLD });
    expect(ra["p1 Opened"]).toMatchObject({ state: "waiting", at: null });
    expect(ra["d1 Confirm"]).toMatchObject({ state: "done", at: OLD });
    expect(ra["d1 Expired"]).toMatchObject({ state: "waiting" });
    const before = {
      record_activities: byId(await rowsOf("SELECT * FROM record_activities")),
      emails: byId(await rowsOf("SELECT * FROM email_archive")),
      hits: byId(await rowsOf("SELECT * FROM hits")),
    };
    const counts = async () => ({
      scenario: (await ok("GET", `/scenarios/${mailScenario}`)) as Record<string, unknown>,
      activities: await Promise.all(Object.values(mail).map((id) => ok("GET", `/activities/${id}`))),
      doi: (await ok("GET", `/scenarios/${doiScenario}`)) as Record<string, unknown>,
    });
    const countsBefore = await counts();
    // Four e-mails were done; p4's was then set to failed by hand, which no engine transition does (counts follow those).
    expect(countsBefore.activities[0]).toMatchObject({ record_count: 4 });

    // The activities' reports of that day, which retention must not change: what leaves was counted by day already.
    const reports = async () =>
      Promise.all(
        Object.values(mail).map(
          async (id) => (await ok("GET", `/activities/${id}/report?from=${OLD_DAY}&to=${OLD_DAY}`)).items,
        ),
      );
    const reportsBefore = await reports();
    expect(reportsBefore[0]).toMatchObject([{ period: OLD_DAY, record_count: 3 }]);
    const daysBefore = await rowsOf("SELECT * FROM activity_days ORDER BY activity_id, day");

    const { engine } = testEngine();
    const sweep = await retentionSweep(engine, Date.now(), 30);
    expect(sweep).toMatchObject({ emails: 5, record_activities: 5, hits: 2, done: true });
    expect(await reports()).toEqual(reportsBefore);
    // Done record activities were counted by day when they finished: retention adds nothing to that.
    expect(await rowsOf("SELECT * FROM activity_days ORDER BY activity_id, day")).toEqual(daysBefore);
    expect(daysBefore).toContainEqual(
      expect.objectContaining({ activity_id: Number(mail.Mail), day: OLD_DAY, done: 3 }),
    );

    const left = new Set((await rowsOf("SELECT id FROM record_activities")).map((r) => r.id));
    const kept = (name: string) => left.has(ra[name]?.id as number);
    // Gone: done, failed and cancelled before the window, with their e-mail (p1, p3, p4 Mail) or on their own.
    for (const name of ["p1 Mail", "p3 Mail", "p4 Mail", "p2 Later", "p4 Later"]) {
      expect(kept(name), name).toBe(false);
    }
    // Kept: waiting and running ones, one finished inside the window, a done parent with an e-mail still in D1
    // (an open of it would make its waiting child due), and a confirmation e-mail whose confirmed child still waits
    // (its own e-mail has left).
    for (const name of ["p1 Opened", "p2 Opened", "p3 Later", "p1 Later", "p2 Mail", "d1 Confirm", "d1 Welcome"]) {
      expect(kept(name), name).toBe(true);
    }
    expect(left.size).toBe(before.record_activities.length - 5);
    expect((await rowsOf('SELECT "to" FROM email_archive')).map((r) => r.to)).toEqual(['"p2" <p2@example.com>']);
    expect(await rowsOf("SELECT id FROM hits")).toEqual([]);

    // The export reads back complete: every removed row, as D1 held it, in the day's objects.
    const objects = await retainedDay(engine, OLD_DAY);
    expect(objects.map((o) => o.key).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/\/record-activities-\d+-\d+\.ndjson$/)]),
    );
    const lines: RetainedLine[] = [];
    for (const o of objects) lines.push(...((await readRetained(engine, o.key)) ?? []));
    const exported = (table: string) => byId(lines.filter((l) => l.table === table).map((l) => l.row as Row));
    const removed = (rows: Row[], leftIds: Set<number>) => rows.filter((r) => !leftIds.has(r.id));
    expect(exported("record_activities")).toEqual(removed(before.record_activities, left));
    const emailsLeft = new Set((await rowsOf("SELECT id FROM email_archive")).map((r) => r.id));
    // E-mails with their derived columns filled in: the whole Message-ID and the body's R2 key.
    const full = (r: Row) => ({
      ...r,
      message_id: expect.stringMatching(new RegExp(`^<${r.id}\\.[A-Za-z0-9_-]{16}@example\\.com>$`)),
      body_key: batchKey(r.created_at as number, r.body_key as string),
    });
    expect(before.emails[0]).toMatchObject({ message_id: "", body_key: expect.stringMatching(/^[0-9a-f]{12}$/) });
    expect(exported("emails")).toEqual(removed(before.emails, emailsLeft).map(full));
    expect(exported("hits")).toEqual(before.hits);
    // A record activity leaving with its e-mail is in the e-mail's object.
    const withMail = lines.find((l) => l.table === "record_activities" && l.row.id === ra["p1 Mail"]?.id);
    expect(withMail).toBeDefined();
    expect(objects.reduce((n, o) => n + o.record_activities, 0)).toBe(5);
    expect((await ok("GET", `/retention/${OLD_DAY}`)).objects).toEqual(
      objects.map((o) => ({ ...o, size: expect.any(Number) })),
    );

    // Counts kept on the rows are not taken back by the deletes.
    expect(await counts()).toEqual(countsBefore);

    // The confirmation link still works though its e-mail has left: the page reads the record activity held for it.
    const [doiRecord] = await rowsOf(
      "SELECT id, token FROM scenario_records WHERE scenario_id = ?",
      Number(doiScenario),
    );
    const doiToken = await unsubscribeSecretOf(SECRET, { id: Number(doiRecord?.id), token: String(doiRecord?.token) });
    const confirmPage = await worker.fetch(
      new Request(`https://ma.example/c/${doiRecord?.id}-${doiToken}`),
      env as never,
      createExecutionContext(),
    );
    expect(confirmPage.status).toBe(200);

    // p2's Mail, held by its e-mail still in D1, sent that e-mail: it leaves with it (an e-mail step) and is in no
    // index the record-activity steps read, so it does not hold their floor, which moves up to the cutoff.
    expect(await retentionFloor(engine)).toBeGreaterThan(Date.now() - 30 * DAY_MS - 60_000);

    // Nothing more is old enough: a second sweep removes nothing.
    expect(await retentionSweep(engine, Date.now(), 30)).toMatchObject({ steps: 0, record_activities: 0, done: true });

    // Why p2's Mail stays: an open of its e-mail still reaches it and makes its waiting child due.
    expect((await ok("POST", `/record-activities/${ra["p2 Mail"]?.id}/opened`)).changed).toBe(true);
    expect((await rowsOf("SELECT at FROM record_activities WHERE id = ?", ra["p2 Opened"]?.id))[0]?.at).not.toBeNull();

    // A done parent leaves once its e-mails have: p2's second attempt ages out, and the next sweep takes both.
    await env.DB.prepare("UPDATE emails SET created_at = ?").bind(OLD).run();
    await env.DB.prepare("UPDATE record_activities SET email_created_at = ? WHERE email_status IS NOT NULL")
      .bind(OLD)
      .run();
    expect(await retentionSweep(engine, Date.now(), 30)).toMatchObject({ emails: 1, record_activities: 1 });
    expect(kept("p2 Opened")).toBe(true);
    expect((await rowsOf("SELECT id FROM record_activities WHERE id = ?", ra["p2 Mail"]?.id)).length).toBe(0);
    // Nothing is held by an e-mail any more: the floor moves up to the cutoff, past the held confirmation e-mail.
    expect(await retentionFloor(engine)).toBeGreaterThan(Date.now() - 30 * DAY_MS - 60_000);
    expect((await rowsOf("SELECT id FROM record_activities WHERE id = ?", ra["d1 Confirm"]?.id)).length).toBe(1);
  });

  it("one sweep clears a backlog larger than one step, in bounded steps", async () => {
    const { engine } = testEngine();
    const old = OLD - DAY_MS;
    // RETENTION_STEP + 200 old e-mails of one day, and old finished record activities (reusing the scenario's records).
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
         message_id, headers, transport, status, body_key, attempt, created_at)
       SELECT 900000 + i, 1, 1, 1, 'x@example.com', 'm@example.com', 'Backlog', '<b' || i || '>', '{}', 'local', 'sent',
         'emails/batches/x.ndjson', 1, ?2 + i FROM n`,
    )
      .bind(RETENTION_STEP + 200, old)
      .run();
    const ctx = createExecutionContext();
    await runCron(CRON_SWEEP, { ...env, RETENTION_DAYS: "30" } as unknown as Bindings, ctx);
    await waitOnExecutionContext(ctx);
    expect(await rowsOf("SELECT id FROM email_archive WHERE subject = 'Backlog'")).toEqual([]);
    const day = new Date(old).toISOString().slice(0, 10);
    const objects = await retainedDay(engine, day);
    expect(objects.length).toBe(2);
    expect(objects.reduce((n, o) => n + o.emails, 0)).toBe(RETENTION_STEP + 200);

    // Record activities too: with steps of 1, the sweep runs one step per row and stops when none is left.
    const rows = await rowsOf(
      "SELECT id FROM record_activities WHERE state = 'waiting' AND scenario_id = ?",
      Number(mailScenario),
    );
    expect(rows.length).toBeGreaterThan(2);
    // Rows given an `at` below the floor by hand (no record activity finishes in the past): start from 0 again.
    await env.DB.prepare("DELETE FROM settings WHERE key = ?").bind(RETENTION_FLOOR_KEY).run();
    await env.DB.prepare(
      `UPDATE record_activities SET state = 'cancelled', at = ?1 WHERE scenario_id = ?2 AND state = 'waiting'`,
    )
      .bind(old, Number(mailScenario))
      .run();
    const swept = await retentionSweep(engine, Date.now(), 30, { recordActivityStep: 1 });
    expect(swept).toMatchObject({ steps: rows.length, record_activities: rows.length, done: true });
    // A budget stops a sweep between steps, leaving the rest to the next (again from 0: `at` set by hand).
    await env.DB.prepare("DELETE FROM settings WHERE key = ?").bind(RETENTION_FLOOR_KEY).run();
    await env.DB.prepare("UPDATE record_activities SET state = 'failed', at = ?1 WHERE scenario_id = ?2")
      .bind(old, Number(mailScenario))
      .run();
    const n = (await rowsOf("SELECT id FROM record_activities WHERE scenario_id = ?", Number(mailScenario))).length;
    expect(await retentionSweep(engine, Date.now(), 30, { recordActivityStep: 1, maxSteps: 1 })).toMatchObject({
      steps: 1,
      done: false,
    });
    expect((await rowsOf("SELECT id FROM record_activities WHERE scenario_id = ?", Number(mailScenario))).length).toBe(
      n - 1,
    );
  });
});

describe("reads say where older data lives", () => {
  it("reports, record activities and the e-mail list carry `retention` when it is on, and nothing when it is off", async () => {
    const reads = [
      "/emails",
      `/scenarios/${mailScenario}/record-activities`,
      `/scenarios/${mailScenario}/report`,
      `/activities/${mail.Mail}/report`,
    ];
    for (const path of reads) {
      const res = await retaining(`/api${path}`);
      expect(res.status, path).toBe(200);
      const { retention } = (await res.json()) as { retention: Record<string, unknown> };
      expect(retention, path).toEqual({
        window_days: 30,
        retained_before: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        location: "R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/",
        listing: "GET /api/retention/{day}",
        note: expect.stringContaining("exported to R2 (R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/)"),
      });
      expect(Date.parse(retention.retained_before as string)).toBeLessThan(Date.now() - 29 * DAY_MS);
      expect(await ok("GET", path), path).not.toHaveProperty("retention");
    }
    // One e-mail that is not in D1: with retention on, the 404 says where older ones are.
    const missing = await retaining("/api/emails/999999");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(
      /^e-mail 999999 not found\. Finished record activities, e-mails and tracking hits from before .* GET \/api\/retention\/\{day\}/,
    );
    expectError(await api("GET", "/emails/999999"), 404, "e-mail 999999 not found");
    expect((await api("GET", "/emails/999999")).body.error.message).not.toContain("R2");
    const doc = (await ok("GET", "/openapi.json")) as { components: { schemas: Record<string, unknown> } };
    expect(doc.components.schemas).toHaveProperty("RetentionNote");
    expect(JSON.stringify(doc.components.schemas.EmailList)).toContain("RetentionNote");
  });

  it("the console's scenario page and timeline show the same sentence", async () => {
    const { cookie } = await login();
    const [sr] = (await ok("GET", `/scenarios/${mailScenario}/records`)).items;
    await env.DB.prepare("UPDATE scenario_records SET created_at = ? WHERE id = ?").bind(OLD, Number(sr.id)).run();
    for (const path of [`/console/scenarios/${mailScenario}`, `/console/scenario-records/${sr.id}`]) {
      const on = await (await retaining(path, { cookie })).text();
      expect(on, path).toContain("data-retained");
      expect(on, path).toContain("are listed by day by GET /api/retention/{day}");
      const off = await (await retaining(path, { cookie, days: "" })).text();
      expect(off, path).not.toContain("data-retained");
    }
  });
});

describe("retention routes", () => {
  it("a bad day is a 400 naming it; both routes need the admin token", async () => {
    expectError(await api("GET", "/retention/2020-13"), 400, "day");
    expectError(await api("GET", "/retention/yesterday"), 400, "day");
    expect((await api("GET", "/retention", undefined, { token: null })).status).toBe(401);
    expect((await api("GET", `/retention/${OLD_DAY}`, undefined, { token: null })).status).toBe(401);
    expect((await api("GET", "/retention", undefined, { token: "wrong" })).status).toBe(401);
    const on = (await (await retaining("/api/retention")).json()) as Record<string, unknown>;
    expect(on).toMatchObject({ retention_days: 30, location: "R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/" });
  });
});
