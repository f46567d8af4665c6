import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { timelinePage } from "../../../src/console/data";
import { CRON_SWEEP, runCron } from "../../../src/crons";
import { EMAIL_SEQUENCE_BASE } from "../../../src/email/archive-ids";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { readRetained, retainStep } from "../../../src/engine/retention/retention";
import type { Bindings } from "../../../src/env";
import { buildServices } from "../../../src/services";
import { api, expectError, ok } from "../../helpers";
import { buildScenario, testEngine } from "../fixtures";

const DAY1 = Date.UTC(2020, 0, 10, 9);
const DAY2 = Date.UTC(2020, 0, 11, 23, 59);

async function email(id: number, createdAt: number) {
  await env.DB.prepare(
    `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, body_offset, body_length, attempt, link_urls, sent_at,
       created_at)
     VALUES (?1, ?1 + 1000, 1, 2, ?1 + 2000, 'a@example.com', 'm@example.com', 'Hi ' || ?1, '<m' || ?1 || '>', '{}',
       'local', 'sent', 'emails/batches/x.ndjson', 0, 10, 1, '["https://shop.example/"]', ?2, ?2)`,
  )
    .bind(id, createdAt)
    .run();
}

async function hit(emailId: number, at: number) {
  await env.DB.prepare(
    `INSERT INTO hits (kind, link_key, email_id, record_activity_id, scenario_id, activity_id, human, reason, client, at)
     VALUES ('click', 'k', ?1, ?1 + 1000, 1, 2, 1, NULL, 'Firefox', ?2)`,
  )
    .bind(emailId, at)
    .run();
}

const rowsOf = async (sql: string) => (await env.DB.prepare(sql).all<Record<string, unknown>>()).results;

describe("retention", () => {
  it("exports a day of old e-mails with their hits and links to R2, removes them from D1, and reads back complete", async () => {
    for (const id of [101, 102, 103]) await email(id, DAY1 + id * 60_000);
    await email(104, DAY2);
    await email(105, Date.now());
    await hit(101, DAY1 + 1);
    await hit(101, DAY1 + 2);
    await hit(103, DAY1 + 3);
    await hit(105, Date.now());
    await env.DB.prepare(
      `INSERT INTO links (key, kind, email_id, record_activity_id, url, created_at)
       VALUES ('legacykey0123456789abcd', 'click', 102, 1102, 'https://shop.example/old', ?)`,
    )
      .bind(DAY1)
      .run();
    const before = {
      emails: await rowsOf("SELECT * FROM email_archive WHERE id BETWEEN 101 AND 103 ORDER BY id"),
      hits: await rowsOf("SELECT * FROM hits WHERE email_id BETWEEN 101 AND 103 ORDER BY id"),
      links: await rowsOf("SELECT * FROM links WHERE email_id = 102"),
    };
    const { engine } = testEngine();

    const step = await retainStep(engine, Date.now(), 30);
    expect(step).toMatchObject({ day: "2020-01-10", emails: 3, hits: 3, links: 1, record_activities: 0 });
    expect(step.key).toBe("emails/retained/2020-01-10/101-103.ndjson");
    // Gone from D1: the archive lists only what is left.
    expect(await rowsOf("SELECT id FROM email_archive ORDER BY id")).toEqual([{ id: 104 }, { id: 105 }]);
    expect(await rowsOf("SELECT email_id FROM hits")).toEqual([{ email_id: 105 }]);
    expect(await rowsOf("SELECT key FROM links")).toEqual([]);
    expect((await ok("GET", "/emails")).items.map((m: { id: string }) => m.id)).toEqual(["105", "104"]);

    // The export reads back complete: every row as D1 held it.
    const lines = await readRetained(engine, step.key as string);
    expect(lines?.filter((l) => l.table === "emails").map((l) => l.row)).toEqual(before.emails);
    expect(lines?.filter((l) => l.table === "hits").map((l) => l.row)).toEqual(before.hits);
    expect(lines?.filter((l) => l.table === "links").map((l) => l.row)).toEqual(before.links);
    expect(await ok("GET", "/retention/2020-01-10")).toEqual({
      day: "2020-01-10",
      objects: [{ key: step.key, size: expect.any(Number), emails: 3, hits: 3, links: 1, record_activities: 0 }],
    });

    // One day a step, oldest first; nothing inside the window leaves.
    expect(await retainStep(engine, Date.now(), 30)).toMatchObject({ day: "2020-01-11", emails: 1, hits: 0 });
    expect(await retainStep(engine, Date.now(), 30)).toEqual({
      day: null,
      key: null,
      emails: 0,
      hits: 0,
      links: 0,
      record_activities: 0,
    });
    expect(await rowsOf("SELECT id FROM email_archive")).toEqual([{ id: 105 }]);
    expect((await ok("GET", "/retention/2020-01-12")).objects).toEqual([]);
  });

  it("takes old e-mails from both id ranges, passing over a recent first attempt whose id is lower", async () => {
    const retry = EMAIL_SEQUENCE_BASE + 1;
    // A first attempt sent today after a long delay (its record activity is older than the next one's).
    await email(301, Date.now());
    await email(302, DAY1);
    // A later attempt: its id comes from the sequence.
    await email(retry, DAY1 + 60_000);
    const { engine } = testEngine();
    expect(await retainStep(engine, Date.now(), 30)).toMatchObject({ day: "2020-01-10", emails: 1 });
    expect(await retainStep(engine, Date.now(), 30)).toMatchObject({ day: "2020-01-10", emails: 1 });
    expect(await retainStep(engine, Date.now(), 30)).toMatchObject({ day: null, emails: 0 });
    expect(await rowsOf("SELECT id FROM email_archive WHERE id IN (301, 302, 4503599627370497)")).toEqual([
      { id: 301 },
    ]);
  });

  it("says where older data lives; a bad day is a 400 and the routes need the token", async () => {
    expect(await ok("GET", "/retention")).toEqual({
      retention_days: null,
      retained_before: null,
      location: "R2 bucket EMAIL_BODIES, emails/retained/YYYY-MM-DD/",
    });
    expectError(await api("GET", "/retention/2020-1-10"), 400, "day");
    expect((await api("GET", "/retention/2020-01-10", undefined, { token: null })).status).toBe(401);
    expect(await readRetained(testEngine().engine, "emails/batches/x.ndjson")).toBeNull();
  });

  it("a timeline older than the window says its old record activities, e-mails and hits are in R2", async () => {
    await ok("PUT", "/records/party/ret1", { name: "R", email: "r@example.com" });
    const { scenarioId } = await buildScenario({ name: "Retained", model: "party", domain: [["id", "=", "ret1"]] }, [
      { name: "A" },
    ]);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(scenarioId) });
    const [sr] = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    await env.DB.prepare("UPDATE scenario_records SET created_at = ? WHERE id = ?").bind(DAY1, sr.id).run();
    const retaining = buildServices({ ...env, RETENTION_DAYS: "30" } as unknown as Bindings);
    const retention = (await timelinePage(retaining, Number(sr.id))).retention;
    expect(Date.parse(retention?.retained_before as string)).toBeGreaterThan(Date.now() - 31 * 86_400_000);
    expect(retention?.note).toContain("GET /api/retention/{day}");
    expect((await timelinePage(testEngine().engine, Number(sr.id))).retention).toBeNull();
  });

  it("the minute sweep runs a step only when RETENTION_DAYS is set", async () => {
    await email(50, DAY1); // the oldest id: steps go by id
    const sweep = async (vars: Record<string, string>) => {
      const ctx = createExecutionContext();
      await runCron(CRON_SWEEP, { ...env, ...vars } as unknown as Bindings, ctx);
      await waitOnExecutionContext(ctx);
    };
    await sweep({});
    expect(await rowsOf("SELECT id FROM email_archive WHERE id = 50")).toEqual([{ id: 50 }]);
    await sweep({ RETENTION_DAYS: "30" });
    expect(await rowsOf("SELECT id FROM email_archive WHERE id = 50")).toEqual([]);
    expect((await ok("GET", "/retention/2020-01-10")).objects.map((o: { key: string }) => o.key)).toContain(
      "emails/retained/2020-01-10/50-50.ndjson",
    );
  });
});
