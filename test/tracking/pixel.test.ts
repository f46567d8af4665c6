import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { hitsOf, recordActivity, request, sentEmail } from "./fixtures";

async function expectPixel(res: Response) {
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toBe("image/gif");
  expect(res.headers.get("cache-control")).toContain("no-store");
  expect(res.headers.get("pragma")).toBe("no-cache");
  const bytes = new Uint8Array(await res.arrayBuffer());
  expect(bytes.byteLength).toBe(43);
  expect(new TextDecoder().decode(bytes.slice(0, 6))).toBe("GIF89a");
  // 1x1 logical screen, and the trailer byte.
  expect([...bytes.slice(6, 10)]).toEqual([1, 0, 1, 0]);
  expect(bytes[42]).toBe(0x3b);
}

describe("open pixel", () => {
  it("is a 43-byte transparent GIF that no one may cache", async () => {
    const sent = await sentEmail();
    await expectPixel(await request(`/o/${sent.openKey}.gif`));
  });

  it("is served for unknown keys too, recording nothing", async () => {
    const before = await env.DB.prepare("SELECT count(*) AS n FROM hits").first<{ n: number }>();
    await expectPixel(await request("/o/AAAAAAAAAAAAAAAA.gif"));
    await expectPixel(await request("/o/not-a-key!.gif"));
    const after = await env.DB.prepare("SELECT count(*) AS n FROM hits").first<{ n: number }>();
    expect(after?.n).toBe(before?.n);
  });

  it("records a person's open and fires the event", async () => {
    const sent = await sentEmail();
    await request(`/o/${sent.openKey}.gif`);
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([
      { kind: "open", link_key: sent.openKey, human: 1, reason: null },
    ]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 1, email_clicked: 0 });
  });

  it("accepts the key without the .gif suffix", async () => {
    const sent = await sentEmail();
    await expectPixel(await request(`/o/${sent.openKey}`));
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 1 });
  });

  it("counts a Gmail image proxy fetch as an open", async () => {
    const sent = await sentEmail();
    await request(`/o/${sent.openKey}.gif`, {
      headers: {
        "user-agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
      },
      cf: { asn: 15169, asOrganization: "Google LLC", country: "US" },
    });
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([
      { human: 1, client: "Gmail image proxy · US · Google LLC" },
    ]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 1 });
  });

  it("does not count Apple Mail Privacy Protection prefetches", async () => {
    const byAgent = await sentEmail();
    await request(`/o/${byAgent.openKey}.gif`, { headers: { "user-agent": "Mozilla/5.0" } });
    const byNetwork = await sentEmail();
    await request(`/o/${byNetwork.openKey}.gif`, { cf: { asn: 714, asOrganization: "APPLE-ENGINEERING" } });
    for (const sent of [byAgent, byNetwork]) {
      expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "apple_mpp_prefetch" }]);
      expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 0 });
    }
  });

  it("answers HEAD without a body and without firing the event", async () => {
    const sent = await sentEmail();
    const res = await request(`/o/${sent.openKey}.gif`, { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/gif");
    expect(await hitsOf(sent.recordActivityId)).toMatchObject([{ human: 0, reason: "head_request" }]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 0 });
  });
});
