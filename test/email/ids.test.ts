import { SELF } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { meteredD1 } from "../../src/bench/meter";
import { EMAIL_SEQUENCE_BASE } from "../../src/email/archive-ids";
import { getBody } from "../../src/email/bodies";
import { createMailer } from "../../src/email/mailer";
import { emailOfRecordActivity, inJsonIds } from "../../src/email/of-record-activity";
import type { Bindings } from "../../src/env";
import { BASE, bindings, job } from "./fixtures";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Sends a batch through a metered D1: the outcomes' e-mail ids and the rows each statement wrote. */
async function send(jobs: ReturnType<typeof job>[]) {
  const { db, totals } = meteredD1(bindings.DB);
  const outcomes = await createMailer({ ...bindings, DB: db } as Bindings).sendBatch(jobs, Date.now());
  return { ids: outcomes.map((o) => o.emailId), written: totals.writtenBy };
}

async function legacyEmail(id: number, recordActivityId: number) {
  await bindings.DB.prepare(
    `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, attempt, created_at)
     VALUES (?1, ?2, 7, 70, 1, 'a@example.com', 'm@example.com', 'Hi', '<legacy>', '{}', 'local', 'retry', 'k', 1, 0)`,
  )
    .bind(id, recordActivityId)
    .run();
}

describe("e-mail ids", () => {
  it("after the upgrade the sequence continues at 2^52, and so does AUTOINCREMENT's counter", async () => {
    // First in this file: nothing has been sent yet, so these are the values the migration left.
    const floor = EMAIL_SEQUENCE_BASE - 1;
    expect(await bindings.DB.prepare("SELECT value FROM sequences WHERE name = 'emails'").first("value")).toBe(floor);
    const seq = await bindings.DB.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'emails'").first("seq");
    expect(seq).toBe(floor);
  });

  it("a first attempt's e-mail has its record activity's id, and its row is written with no index entry", async () => {
    const first = job();
    const { ids, written } = await send([first]);
    expect(ids).toEqual([first.recordActivityId]);
    // Sent outside a claim, the row is archived before delivery (1: no index entry) and completed after (the row
    // again and its provider id's entry); in a claim it is written once, on its record activity's row, by the commit
    // (test/email/staged.test.ts).
    expect(written["INSERT INTO emails"]).toBe(1);
    expect(written["UPDATE emails"]).toBe(2);
    // No id came from the sequence: it is not written.
    expect(written["INSERT INTO sequences"]).toBeUndefined();
  });

  it("a later attempt takes an id from the sequence (2^52 up), is in the record-activity index, and its keys work", async () => {
    const first = job();
    await send([first]);
    const { ids, written } = await send([{ ...first, attempt: 2 }]);
    const id = ids[0] as number;
    expect(id).toBeGreaterThanOrEqual(EMAIL_SEQUENCE_BASE);
    expect(id).toBeLessThan(2 ** 53);
    // The row, its entry in the partial index by record activity, and AUTOINCREMENT's counter (once a statement),
    // archived before delivery outside a claim; then the row again and its provider id's entry once delivered.
    expect(written["INSERT INTO emails"]).toBe(3);
    expect(written["UPDATE emails"]).toBe(2);
    const row = await bindings.DB.prepare("SELECT record_activity_id, attempt FROM email_archive WHERE id = ?")
      .bind(id)
      .first();
    expect(row).toMatchObject({ record_activity_id: first.recordActivityId, attempt: 2 });
    // The signed click key names the 16-digit id and still leads to the link.
    const key = new RegExp(`${BASE}/l/(${id}-c0-[A-Za-z0-9_-]{16})`).exec(await htmlOf(id))?.[1];
    expect(key).toBeDefined();
    const res = await SELF.fetch(`${BASE}/l/${key}`, { redirect: "manual", headers: { "user-agent": "Mozilla/5.0" } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`https://shop.example/cart/${first.record.id}`);
  });

  it("an id held by another e-mail, or a record activity that has one, takes the sequence; one sequence write a batch", async () => {
    const fresh = job();
    const idTaken = job();
    const hasLegacy = job();
    // E-mails archived before: one holding idTaken's number for another record activity, one of hasLegacy's.
    await legacyEmail(idTaken.recordActivityId, 424242);
    await legacyEmail(888_888, hasLegacy.recordActivityId);
    const { ids, written } = await send([fresh, idTaken, hasLegacy]);
    expect(ids[0]).toBe(fresh.recordActivityId);
    expect(ids[1]).toBeGreaterThanOrEqual(EMAIL_SEQUENCE_BASE);
    expect(ids[2]).toBe((ids[1] as number) + 1);
    expect(written["INSERT INTO sequences"]).toBe(1);
    const owners = await bindings.DB.prepare(
      "SELECT id, record_activity_id FROM email_archive WHERE id IN (?, ?) ORDER BY id",
    )
      .bind(idTaken.recordActivityId, ids[1])
      .all();
    expect(owners.results).toEqual([
      { id: idTaken.recordActivityId, record_activity_id: 424242 },
      { id: ids[1], record_activity_id: idTaken.recordActivityId },
    ]);
  });

  it("the e-mails of record activities are read by the primary key and the partial index, never by a scan", async () => {
    const plan = async (sql: string) =>
      (await bindings.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind("[1,2]").all<{ detail: string }>()).results.map(
        (r) => r.detail,
      );
    for (const sql of [
      `SELECT m.id FROM email_archive m WHERE m.status = 'sent' AND ${emailOfRecordActivity("m", inJsonIds("?1"))}`,
      `SELECT ra.id FROM record_activities ra WHERE ra.id IN (SELECT value FROM json_each(?1))
         AND EXISTS (SELECT 1 FROM email_archive m WHERE ${emailOfRecordActivity("m", (c) => `${c} = ra.id`)})`,
    ]) {
      const details = await plan(sql);
      // Both homes of the archive (src/db/views.ts), each through its own keys.
      expect(details.some((d) => /SEARCH emails USING INTEGER PRIMARY KEY/.test(d))).toBe(true);
      expect(details.some((d) => /SEARCH emails USING (COVERING )?INDEX emails_record_activity/.test(d))).toBe(true);
      expect(details.some((d) => /SEARCH record_activities USING INTEGER PRIMARY KEY/.test(d))).toBe(true);
      expect(details.filter((d) => /^SCAN (m|emails|record_activities|email_archive)\b/.test(d))).toEqual([]);
    }
  });
});

async function htmlOf(id: number): Promise<string> {
  const row = await bindings.DB.prepare(
    "SELECT body_key, body_offset, body_length, created_at FROM email_archive WHERE id = ?",
  )
    .bind(id)
    .first<{ body_key: string; body_offset: number | null; body_length: number | null; created_at: number }>();
  const body = await getBody(bindings.EMAIL_BODIES, {
    bodyKey: row?.body_key ?? "",
    bodyOffset: row?.body_offset ?? null,
    bodyLength: row?.body_length ?? null,
    createdAt: row?.created_at ?? 0,
  });
  return body?.html ?? "";
}
