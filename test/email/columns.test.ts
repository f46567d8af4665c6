import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type ArchiveRow, recordDeliveries } from "../../src/email/archive";
import { batchKey, bodyObjectKey } from "../../src/email/bodies";
import { derivedMessageId, messageIdOf } from "../../src/email/columns";
import type { Bindings } from "../../src/env";
import { randomHex } from "../../src/ids";
import { api } from "../helpers";
import { sentEmail } from "../tracking/fixtures";
import { type EmailRecord, emailRow } from "./fixtures";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;
const BODY = { html: "<p>Archived the old way</p>", text: "Archived the old way", raw: "Subject: old\r\n\r\nold" };

const columnsOf = (id: number) =>
  env.DB.prepare("SELECT message_id, body_key, sent_at, answered_at, created_at FROM email_archive WHERE id = ?")
    .bind(id)
    .first<{ message_id: string; body_key: string; sent_at: number | null; answered_at: number | null }>();

describe("the e-mail row's derived columns", () => {
  it("shows an e-mail archived before with its stored Message-ID and its body under its stored key", async () => {
    const sent = await sentEmail();
    const key = `emails/${randomHex(8)}.json`;
    await env.EMAIL_BODIES.put(key, JSON.stringify(BODY));
    await env.DB.prepare("UPDATE emails SET body_key = ? WHERE id = ?").bind(key, sent.emailId).run();
    const stored = await columnsOf(sent.emailId);
    expect(stored?.message_id).toMatch(/^<[0-9a-f]{16}@example\.com>$/);

    const res = await api("GET", `/emails/${sent.emailId}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ message_id: stored?.message_id, html: BODY.html, text: BODY.text });
  });

  it("derives the Message-ID and the body's key of an e-mail that stores neither", async () => {
    const sent = await sentEmail();
    const nonce = randomHex(6);
    const created = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    await env.EMAIL_BODIES.put(batchKey(created, nonce), JSON.stringify(BODY));
    await env.DB.prepare("UPDATE emails SET message_id = '', body_key = ?, created_at = ? WHERE id = ?")
      .bind(nonce, created, sent.emailId)
      .run();
    expect(bodyObjectKey({ bodyKey: nonce, createdAt: created })).toBe(
      `emails/batches/2026-01-02/${created}-${nonce}.ndjson`,
    );
    // A stored key of another shape is used as it is.
    expect(bodyObjectKey({ bodyKey: "emails/abc", createdAt: created })).toBe("emails/abc");

    const messageId = await derivedMessageId(SECRET, sent.emailId, "example.com");
    expect(messageId).toMatch(new RegExp(`^<${sent.emailId}\\.[A-Za-z0-9_-]{16}@example\\.com>$`));
    const res = await api("GET", `/emails/${sent.emailId}`);
    expect(res.body).toMatchObject({ message_id: messageId, html: BODY.html });
    const list = await api("GET", `/emails?record_activity_id=${sent.recordActivityId}`);
    expect(list.body.items.map((m: { message_id: string }) => m.message_id)).toEqual([messageId]);
  });

  it("derives a Message-ID unique to the e-mail, the server's secret and the sender's domain", async () => {
    const a = await derivedMessageId(SECRET, 7, "example.com");
    expect(await derivedMessageId(SECRET, 7, "example.com")).toBe(a);
    expect(await derivedMessageId(SECRET, 8, "example.com")).not.toBe(a);
    expect((await derivedMessageId(`${SECRET}x`, 7, "example.com")).split("@")[0]).not.toBe(a.split("@")[0]);
    for (const from of ['"Marketing" <news@example.com>', "news@example.com", "Ma <news@Example.COM>"]) {
      expect(await messageIdOf(SECRET, { id: 7, from, messageId: "" })).toBe(a);
    }
    expect(await messageIdOf(SECRET, { id: 7, from: "news@example.com", messageId: "<old@example.com>" })).toBe(
      "<old@example.com>",
    );
  });

  it("leaves answered_at NULL when the transport answered at sent_at, and keeps it otherwise", async () => {
    const [same, later, failed] = await Promise.all([sentEmail(), sentEmail(), sentEmail()]);
    const t = Date.now();
    const rows = await Promise.all([same, later, failed].map((m) => archiveRowOf(m.emailId)));
    // Outcomes are recorded over rows archived before the answer (`abandoned` by a takeover while the Worker was slow,
    // wherever the row is: an `emails` row or its record activity's).
    const ids = JSON.stringify([same, later, failed].map((m) => m.emailId));
    await env.DB.batch([
      env.DB.prepare("UPDATE emails SET status = 'abandoned' WHERE id IN (SELECT value FROM json_each(?))").bind(ids),
      env.DB.prepare(
        "UPDATE record_activities SET email_status = 'abandoned' WHERE id IN (SELECT value FROM json_each(?)) AND email_status IS NOT NULL",
      ).bind(ids),
    ]);
    await recordDeliveries(env.DB, rows, [
      { id: same.emailId, status: "sent", error: null, sentAt: t, providerId: "p1", answeredAt: t },
      { id: later.emailId, status: "sent", error: null, sentAt: t, providerId: "p2", answeredAt: t + 5 },
      { id: failed.emailId, status: "failed", error: "no", sentAt: null, providerId: null, answeredAt: t },
    ]);
    expect(await columnsOf(same.emailId)).toMatchObject({ sent_at: t, answered_at: null });
    expect(await columnsOf(later.emailId)).toMatchObject({ sent_at: t, answered_at: t + 5 });
    expect(await columnsOf(failed.emailId)).toMatchObject({ sent_at: null, answered_at: t });
  });
});

/** An archived e-mail's row as the archive carries it (`ArchiveRow`), to record a delivery over it. */
async function archiveRowOf(id: number): Promise<ArchiveRow> {
  const r = (await emailRow(id)) as EmailRecord;
  return {
    id: r.id,
    ra: r.record_activity_id,
    scenario: r.scenario_id,
    activity: r.activity_id,
    sr: r.scenario_record_id,
    to: r.to,
    from: r.from,
    subject: r.subject,
    mid: r.message_id,
    attempt: r.attempt,
    off: r.body_offset as number,
    len: r.body_length as number,
    urls: r.link_urls,
    transport: r.transport,
    key: r.body_key,
    at: r.created_at,
  };
}
