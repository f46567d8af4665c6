import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { forgetLinks } from "../../src/tracking/links";
import { addLink, hitsOf, ORIGIN, recordActivity, request, sentEmail } from "./fixtures";

describe("click redirect", () => {
  it("redirects (302) to the URL stored for the key", async () => {
    const sent = await sentEmail();
    const res = await request(`/l/${sent.clickKey}`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(sent.url);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("ignores the query string: no parameter can choose the target", async () => {
    const sent = await sentEmail();
    const res = await request(`/l/${sent.clickKey}?url=https://evil.example&next=https://evil.example`);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(sent.url);
  });

  it("answers 404 with a small HTML page for an unknown or malformed key", async () => {
    for (const key of ["AAAAAAAAAAAAAAAA", "not a key!", "x"]) {
      const res = await request(`/l/${encodeURIComponent(key)}`);
      expect(res.status, key).toBe(404);
      expect(res.headers.get("content-type")).toContain("text/html");
      expect(await res.text()).toContain("Link not found");
    }
  });

  it("does not redirect with a pixel key or a next-page key", async () => {
    const sent = await sentEmail();
    const next = await addLink("next", sent.emailId, sent.recordActivityId, "https://shop.example/bye");
    expect((await request(`/l/${sent.openKey}`)).status).toBe(404);
    expect((await request(`/l/${next}`)).status).toBe(404);
  });

  it("records a person's click and fires the event", async () => {
    const sent = await sentEmail();
    await request(`/l/${sent.clickKey}`, { cf: { country: "FR", asn: 3215, asOrganization: "Orange" } });
    const [hit, ...more] = await hitsOf(sent.recordActivityId);
    expect(more).toEqual([]);
    expect(hit).toMatchObject({
      kind: "click",
      link_key: sent.clickKey,
      email_id: sent.emailId,
      scenario_id: sent.scenarioId,
      activity_id: sent.sendActivityId,
      human: 1,
      reason: null,
      client: "Chrome on Windows · FR · Orange",
    });
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 1, email_opened: 1 });
  });

  it("answers HEAD like GET but records a machine hit that fires nothing", async () => {
    const sent = await sentEmail();
    const res = await request(`/l/${sent.clickKey}`, { method: "HEAD" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(sent.url);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "head_request" }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 0 });
  });

  it("redirects a scanner too, but its click fires nothing", async () => {
    const sent = await sentEmail();
    const res = await request(`/l/${sent.clickKey}`, {
      headers: { "user-agent": "Mozilla/5.0 (compatible; Mimecast URL Protect)" },
    });
    expect(res.status).toBe(302);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([
      { human: 0, reason: "scanner_user_agent:mimecast", client: "mimecast" },
    ]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 0, email_opened: 0 });
  });

  it("treats a click from Microsoft's network as a scanner", async () => {
    const sent = await sentEmail();
    await request(`/l/${sent.clickKey}`, { cf: { asn: 8075, asOrganization: "MICROSOFT-CORP-MSN-AS-BLOCK" } });
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "scanner_network:AS8075" }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 0 });
  });

  it("treats a click within 5 seconds of delivery as a machine", async () => {
    const sent = await sentEmail({ sentAgoMs: 1_000 });
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(302);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "too_soon_after_delivery" }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 0 });
  });

  it("serves a key from the isolate's memory, then the Cache API, without D1", async () => {
    const sent = await sentEmail();
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(302);
    await env.DB.prepare("DELETE FROM links WHERE key = ?").bind(sent.clickKey).run();

    const fromMemory = await request(`/l/${sent.clickKey}`);
    expect(fromMemory.status).toBe(302);
    expect(fromMemory.headers.get("location")).toBe(sent.url);

    forgetLinks();
    const fromCache = await request(`/l/${sent.clickKey}`);
    expect(fromCache.status).toBe(302);
    expect(fromCache.headers.get("location")).toBe(sent.url);

    // With both layers emptied, D1 (where the row is gone) has the last word: the layers above were really used.
    forgetLinks();
    await caches.default.delete(`${ORIGIN}/__tracking/links/${sent.clickKey}`);
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(404);
  });

  it("redirects a remembered key with no D1 on the way, and a failure to record cannot fail it", async () => {
    const sent = await sentEmail();
    await request(`/l/${sent.clickKey}`);
    const broken = {
      prepare: () => {
        throw new Error("D1 is down");
      },
      batch: () => Promise.reject(new Error("D1 is down")),
    } as unknown as D1Database;
    const res = await request(`/l/${sent.clickKey}`, { env: { DB: broken } });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(sent.url);
  });

  it("does not cache a link while its e-mail is still being sent", async () => {
    const sent = await sentEmail({ sentAgoMs: null });
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(302);
    await env.DB.prepare("DELETE FROM links WHERE key = ?").bind(sent.clickKey).run();
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(404);
    // Hit while still sending: the gateway scanning the delivery.
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "too_soon_after_delivery" }]);
  });

  it("counts a click on an attempt that reported a failure yet was delivered (its delivery time is unknown)", async () => {
    const sent = await sentEmail({ sentAgoMs: null, status: "retry" });
    expect((await request(`/l/${sent.clickKey}`)).status).toBe(302);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 1, reason: null }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_clicked: 1 });
  });

  it("still redirects when the record activity is gone, recording the hit without an event", async () => {
    const sent = await sentEmail();
    await env.DB.prepare("DELETE FROM record_activities WHERE id = ?").bind(sent.recordActivityId).run();
    const res = await request(`/l/${sent.clickKey}`);
    expect(res.status).toBe(302);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 1, scenario_id: sent.scenarioId }]);
  });
});
