import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getBody } from "../../src/email/bodies";
import { createMailer } from "../../src/email/mailer";
import type { Bindings } from "../../src/env";
import { signKey, verifyKey } from "../../src/signing/keys";
import { forgetLinks } from "../../src/tracking/links";
import { recordingD1 } from "../db/recording-d1";
import { job } from "../email/fixtures";
import { addLink, hitsOf, recordActivity, request, sentEmail, signedEmail } from "./fixtures";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;

/** Counts the statements D1 is asked to run during one request, on the binding or in a session. */
function countingDb(): { db: D1Database; statements: string[] } {
  const statements: string[] = [];
  return { db: recordingD1(env.DB, { log: statements }).db, statements };
}

/** Flips one character of a key's MAC. */
const tamper = (key: string) => key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");

describe("signed tracking keys", () => {
  it("a key written by the mailer redirects to its URL, with no links row", async () => {
    const j = job({
      template: '<p><a href="https://shop.example/one">1</a><a href="https://shop.example/two">2</a></p>',
    });
    const [outcome] = await createMailer(env as unknown as Bindings).sendBatch([j], Date.now() - 60_000);
    const emailId = (outcome as { emailId: number }).emailId;
    const row = await env.DB.prepare(
      "SELECT body_key, body_offset, body_length, created_at FROM email_archive WHERE id = ?",
    )
      .bind(emailId)
      .first<{ body_key: string; body_offset: number; body_length: number; created_at: number }>();
    const body = await getBody(env.EMAIL_BODIES, {
      bodyKey: row?.body_key ?? "",
      bodyOffset: row?.body_offset ?? null,
      bodyLength: row?.body_length ?? null,
      createdAt: row?.created_at ?? 0,
    });
    const keys = [...(body?.html ?? "").matchAll(/\/l\/([^"]+)"/g)].map((m) => m[1] as string);
    expect(keys).toHaveLength(2);
    const links = await env.DB.prepare("SELECT count(*) AS n FROM links WHERE email_id = ?").bind(emailId).first();
    expect(links).toEqual({ n: 0 });
    const second = await request(`/l/${keys[1]}`);
    expect(second.status).toBe(302);
    expect(second.headers.get("location")).toBe("https://shop.example/two");
    expect((await request(`/l/${keys[0]}`)).headers.get("location")).toBe("https://shop.example/one");
  });

  it("a click records the hit and fires the event, resolving with one primary-key read", async () => {
    const sent = await signedEmail(["https://shop.example/a", "https://shop.example/b"]);
    const key = await sent.key("click", 1);
    forgetLinks();
    const { db, statements } = countingDb();
    const res = await request(`/l/${key}`, { env: { DB: db } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example/b");
    const lookups = statements.filter((s) => !/INSERT INTO hits|UPDATE|INSERT INTO record_activities/.test(s));
    expect(lookups.filter((s) => /FROM email_archive WHERE id = \?/.test(s))).toHaveLength(1);
    expect(statements.some((s) => /FROM links/.test(s))).toBe(false);
    const [hit] = await hitsOf(sent.recordActivityId);
    expect(hit).toMatchObject({ kind: "click", link_key: key, email_id: sent.emailId, human: 1 });
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 1, email_opened: 1 });
  });

  it("a forged or altered key is a 404, never a redirect, and costs no database read", async () => {
    const sent = await signedEmail(["https://shop.example/a", "https://shop.example/b"]);
    const good = await sent.key("click", 0);
    const [, , kindPos, mac] = /^(\d+)-(c\d+)-(.{16})$/.exec(good) as unknown as [string, string, string, string];
    const forged = [
      tamper(good), // another MAC
      `${sent.emailId}-c1-${mac}`, // another position under the same MAC
      `${sent.emailId + 1}-${kindPos}-${mac}`, // another e-mail
      `${sent.emailId}-n0-${mac}`, // another kind
      `${sent.emailId}-c0-AAAAAAAAAAAAAAAA`,
      await signKey("another-secret-of-at-least-32-characters", { emailId: sent.emailId, kind: "click", position: 0 }),
    ];
    for (const key of forged) {
      forgetLinks();
      const { db, statements } = countingDb();
      const res = await request(`/l/${key}`, { env: { DB: db } });
      expect(res.status, key).toBe(404);
      expect(res.headers.get("location"), key).toBeNull();
      expect(statements, key).toEqual([]);
    }
    expect(await hitsOf(sent.recordActivityId)).toEqual([]);
  });

  it("a valid key beyond the e-mail's links, or of a pixel or next page, does not redirect", async () => {
    const sent = await signedEmail(["https://shop.example/a"]);
    expect((await request(`/l/${await sent.key("click", 1)}`)).status).toBe(404);
    expect((await request(`/l/${await sent.key("open", 0)}`)).status).toBe(404);
    expect((await request(`/l/${await sent.key("next", 0)}`)).status).toBe(404);
  });

  it("the open pixel's signed key records an open; a forged one records nothing", async () => {
    const sent = await signedEmail([]);
    await request(`/o/${tamper(await sent.key("open", 0))}.gif`);
    expect(await hitsOf(sent.recordActivityId)).toEqual([]);
    const res = await request(`/o/${await sent.key("open", 0)}.gif`);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ kind: "open", human: 1 }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 1, email_clicked: 0 });
  });

  it("a signed next page redirects after unsubscribing, only for its own recipient", async () => {
    const sent = await signedEmail(["https://shop.example/a", "https://shop.example/bye"]);
    const next = await sent.key("next", 1);
    const other = await sentEmail();
    expect((await request(`/u/${other.token}/${next}`, { method: "POST" })).status).toBe(200);
    expect((await request(`/u/${sent.token}/${tamper(next)}`, { method: "POST" })).status).toBe(200);
    const res = await request(`/u/${sent.token}/${next}`, { method: "POST" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("https://shop.example/bye");
  });

  it("keys sent before keys were signed (a links row each) keep working", async () => {
    const sent = await sentEmail();
    expect(sent.clickKey).toMatch(/^[A-Za-z0-9_-]{16}$/);
    forgetLinks();
    const res = await request(`/l/${sent.clickKey}`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(sent.url);
    const next = await addLink("next", sent.emailId, sent.recordActivityId, "https://shop.example/bye");
    const unsubscribed = await request(`/u/${sent.token}/${next}`, { method: "POST" });
    expect(unsubscribed.headers.get("location")).toBe("https://shop.example/bye");
  });

  it("signed keys of e-mails whose URLs were stored the older way (deflated or plain JSON) keep redirecting", async () => {
    const urls = ["https://shop.example/old-1?utm_source=mail", "https://shop.example/old-2?utm_source=mail"];
    const json = JSON.stringify(urls);
    const deflated = new Uint8Array(
      await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer(),
    );
    for (const stored of [`z:${btoa(String.fromCharCode(...deflated))}`, json]) {
      const sent = await sentEmail();
      await env.DB.prepare("UPDATE emails SET link_urls = ? WHERE id = ?").bind(stored, sent.emailId).run();
      const click = await signKey(SECRET, { emailId: sent.emailId, kind: "click", position: 1 });
      const res = await request(`/l/${click}`);
      expect(res.status, stored).toBe(302);
      expect(res.headers.get("location")).toBe(urls[1]);
      const next = await signKey(SECRET, { emailId: sent.emailId, kind: "next", position: 0 });
      const unsubscribed = await request(`/u/${sent.token}/${next}`, { method: "POST" });
      expect(unsubscribed.headers.get("location")).toBe(urls[0]);
    }
  });

  it("verifyKey reads back what signKey wrote", async () => {
    const key = await signKey(SECRET, { emailId: 123, kind: "next", position: 7 });
    expect(await verifyKey(SECRET, key)).toEqual({ emailId: 123, kind: "next", position: 7 });
    expect(await verifyKey(SECRET, tamper(key))).toBeNull();
    expect(await verifyKey(SECRET, "AAAAAAAAAAAAAAAA")).toBeNull();
  });
});
