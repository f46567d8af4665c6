import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../src/env";
import { findLink, forgetLinks } from "../../src/tracking/links";
import { recordingD1 } from "../db/recording-d1";
import { addLink, hitsOf, ORIGIN, request, sentEmail, signedEmail } from "./fixtures";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;

const EMAIL_READ = /FROM email_archive WHERE id = \?/;
const WRITES = /^\s*(INSERT|UPDATE|DELETE)/i;

describe("the redirect's cold lookup from a D1 replica", () => {
  it("reads the e-mail row once from any replica; the hit is written on the primary", async () => {
    const sent = await signedEmail(["https://shop.example/a", "https://shop.example/b"]);
    forgetLinks();
    const { db, seen } = recordingD1(env.DB);
    const res = await request(`/l/${await sent.key("click", 1)}`, { env: { DB: db } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example/b");
    expect(seen.starts).toEqual(["first-unconstrained"]);
    expect(seen.onSession).toHaveLength(1);
    expect(seen.onSession[0]).toMatch(EMAIL_READ);
    expect(seen.onBinding.filter((s) => EMAIL_READ.test(s))).toEqual([]);
    expect(seen.onBinding.some((s) => /INSERT INTO hits/.test(s))).toBe(true);
    expect(seen.onSession.filter((s) => WRITES.test(s))).toEqual([]);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ kind: "click", human: 1 }]);
  });

  it("asks the primary when the replica has not seen the e-mail yet: a fresh click never 404s", async () => {
    const sent = await signedEmail(["https://shop.example/fresh"]);
    forgetLinks();
    const behind = recordingD1(env.DB, { replica: (row, sql) => (EMAIL_READ.test(sql) ? null : row) });
    const res = await request(`/l/${await sent.key("click", 0)}`, { env: { DB: behind.db } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example/fresh");
    expect(behind.seen.onSession.filter((s) => EMAIL_READ.test(s))).toHaveLength(1);
    expect(behind.seen.onBinding.filter((s) => EMAIL_READ.test(s))).toHaveLength(1);
  });

  it("asks the primary when the replica still sees the e-mail being sent, and keeps the primary's send time", async () => {
    const sent = await signedEmail(["https://shop.example/sent"]);
    const row = await env.DB.prepare("SELECT sent_at FROM email_archive WHERE id = ?").bind(sent.emailId).first();
    const sentAt = row?.sent_at as number;
    forgetLinks();
    const sending = (row: unknown, sql: string) =>
      EMAIL_READ.test(sql) && row ? { ...(row as object), status: "sending", sent_at: null } : row;
    const { db, seen } = recordingD1(env.DB, { replica: sending });
    const ctx = createExecutionContext();
    const link = await findLink(db, await sent.key("click", 0), {
      origin: ORIGIN,
      secret: SECRET,
      waitUntil: (p) => ctx.waitUntil(p),
    });
    await waitOnExecutionContext(ctx);
    expect(link).toMatchObject({ url: "https://shop.example/sent", sentAt });
    expect(seen.onSession.filter((s) => EMAIL_READ.test(s))).toHaveLength(1);
    expect(seen.onBinding.filter((s) => EMAIL_READ.test(s))).toHaveLength(1);
  });

  it("the open pixel's cold lookup reads from a replica too", async () => {
    const sent = await signedEmail([]);
    forgetLinks();
    const { db, seen } = recordingD1(env.DB);
    await request(`/o/${await sent.key("open", 0)}.gif`, { env: { DB: db } });
    expect(seen.starts).toEqual(["first-unconstrained"]);
    expect(seen.onSession.filter((s) => EMAIL_READ.test(s))).toHaveLength(1);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ kind: "open", human: 1 }]);
  });

  it("keys sent before keys were signed resolve from a replica as well", async () => {
    const sent = await sentEmail();
    const key = await addLink("click", sent.emailId, sent.recordActivityId, "https://shop.example/legacy");
    forgetLinks();
    const { db, seen } = recordingD1(env.DB);
    const res = await request(`/l/${key}`, { env: { DB: db } });
    expect(res.headers.get("location")).toBe("https://shop.example/legacy");
    expect(seen.starts).toEqual(["first-unconstrained"]);
    expect(seen.onSession.filter((s) => /FROM links l/.test(s))).toHaveLength(1);
    expect(seen.onBinding.filter((s) => /FROM links l/.test(s))).toEqual([]);
  });

  it("a forged key opens no session and reads nothing", async () => {
    const sent = await signedEmail(["https://shop.example/a"]);
    const good = await sent.key("click", 0);
    const forged = good.slice(0, -1) + (good.endsWith("A") ? "B" : "A");
    forgetLinks();
    const { db, seen } = recordingD1(env.DB);
    const res = await request(`/l/${forged}`, { env: { DB: db } });
    expect(res.status).toBe(404);
    expect(seen).toEqual({ starts: [], onSession: [], onBinding: [] });
    // The genuine key, through the same binding, does read from a replica.
    await request(`/l/${good}`, { env: { DB: db } });
    expect(seen.starts).toEqual(["first-unconstrained"]);
  });
});
