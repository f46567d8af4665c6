import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { meteredD1 } from "../../src/bench/meter";
import { matchDeliveryEvents } from "../../src/engine/recipients/deliveries";

/** An archived e-mail with this provider id (ids far from the other tests' e-mails). */
async function archived(id: number, providerId: string | null) {
  await env.DB.prepare(
    `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, attempt, provider_message_id, created_at)
     VALUES (?1, ?1, 7, 70, 1, ?3, 'm@example.com', 'Hi', '', '{}', 'mailchannels', 'sent', 'k', 1, ?2, 0)`,
  )
    .bind(id, providerId, `to-${id}@example.com`)
    .run();
}

const event = (pid: string) => ({
  eventId: `ev-${pid}`,
  kind: "delivered" as const,
  provider: "mailchannels",
  providerMessageId: pid,
  emailId: null,
  at: 0,
  detail: null,
});

describe("e-mails by the provider's id", () => {
  it("an e-mail is found by its provider id through the index of the id's last 10 characters, and ids sharing them are told apart", async () => {
    const base = 9_100_000;
    // 500 others, two that share their last 10 characters with the first, and one whose id is shorter than 10.
    for (let i = 0; i < 500; i += 100) {
      await env.DB.batch(
        Array.from({ length: 100 }, (_, j) =>
          env.DB.prepare(
            `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from",
               subject, message_id, headers, transport, status, body_key, attempt, provider_message_id, created_at)
             VALUES (?1, ?1, 7, 70, 1, 'x@example.com', 'm@example.com', 'Hi', '', '{}', 'mailchannels', 'sent', 'k',
               1, ?2, 0)`,
          ).bind(base + i + j, `req-${String(i + j).padStart(6, "0")}-${crypto.randomUUID()}`),
        ),
      );
    }
    await archived(base + 1000, "aaaa-0123456789");
    await archived(base + 1001, "bbbb-0123456789");
    await archived(base + 1002, "0123456789");
    await archived(base + 1003, "short");
    const { db, totals } = meteredD1(env.DB);
    const { matched, unknown } = await matchDeliveryEvents(db, [
      event("aaaa-0123456789"),
      event("bbbb-0123456789"),
      event("0123456789"),
      event("short"),
      event("cccc-0123456789"),
    ]);
    expect(matched.map((m) => m.emailId)).toEqual([base + 1000, base + 1001, base + 1002, base + 1003]);
    expect(matched.map((m) => m.address)).toEqual([1000, 1001, 1002, 1003].map((n) => `to-${base + n}@example.com`));
    expect(unknown).toEqual([4]);
    // A seek a provider id (and the few rows sharing its tail) in each of the archive's two homes (its `emails` rows,
    // the record activities), not a scan of its 500 and more rows.
    expect(totals.rowsRead).toBeLessThan(80);
  });

  it("the index's entry is written once the provider id is known, and holds the id's tail", async () => {
    const plan = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT id FROM email_archive x
       WHERE substr(x.provider_message_id, -10) = substr(?1, -10) AND x.provider_message_id = ?1`,
    )
      .bind("aaaa-0123456789")
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join("\n")).toMatch(/USING INDEX emails_provider_message/);
    const sql = await env.DB.prepare("SELECT sql FROM sqlite_schema WHERE name = 'emails_provider_message'").first<{
      sql: string;
    }>();
    expect(sql?.sql).toMatch(/substr\(`provider_message_id`, -10\)/);
    expect(sql?.sql).toMatch(/WHERE provider_message_id IS NOT NULL/);
  });
});

describe("hits by activity", () => {
  it("a human's hit writes no entry in the activity index, which holds machine hits for reports", async () => {
    const insert = (human: number) =>
      env.DB.prepare(
        `INSERT INTO hits (kind, email_id, record_activity_id, scenario_id, activity_id, human, at)
         VALUES ('open', 1, 1, 1, 1, ?1, 0)`,
      )
        .bind(human)
        .run();
    // The row, its record activity's entry and AUTOINCREMENT's counter; a machine's hit adds the activity's entry.
    expect((await insert(1)).meta.rows_written).toBe(3);
    expect((await insert(0)).meta.rows_written).toBe(4);
    const plan = await env.DB.prepare(
      `EXPLAIN QUERY PLAN SELECT count(*) FROM hits
       WHERE activity_id IN (SELECT value FROM json_each(?1)) AND human = 0 AND kind IN ('open', 'click')
         AND at >= ?2 AND at < ?3`,
    )
      .bind("[1]", 0, 1)
      .all<{ detail: string }>();
    expect(plan.results.map((r) => r.detail).join("\n")).toMatch(/USING INDEX hits_activity/);
  });
});
