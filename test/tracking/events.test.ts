import { describe, expect, it } from "vitest";
import { hitsOf, recordActivity, request, sentEmail } from "./fixtures";

describe("tracking hits drive the scenario", () => {
  it("an open then a click fire each child once", async () => {
    const sent = await sentEmail();
    const { opened, clicked, notClicked } = sent.children;

    await request(`/o/${sent.openKey}.gif`);
    const afterOpen = await recordActivity(opened);
    expect(afterOpen).toMatchObject({ state: "waiting" });
    expect(afterOpen?.at).toBeGreaterThan(Date.now() + 86_000_000);
    expect(await recordActivity(clicked)).toMatchObject({ state: "waiting", at: null });

    await request(`/l/${sent.clickKey}`);
    const afterClick = await recordActivity(clicked);
    expect(afterClick?.at).toBeGreaterThan(Date.now() + 86_000_000);
    expect(await recordActivity(notClicked)).toMatchObject({ state: "cancelled", reason: "the e-mail was clicked" });

    // Repeated hits are stored, and change nothing.
    await request(`/o/${sent.openKey}.gif`);
    await request(`/l/${sent.clickKey}`);
    expect((await recordActivity(opened))?.at).toBe(afterOpen?.at);
    expect((await recordActivity(clicked))?.at).toBe(afterClick?.at);
    expect((await hitsOf(sent.recordActivityId)).map((h) => [h.kind, h.human])).toEqual([
      ["open", 1],
      ["click", 1],
      ["open", 1],
      ["click", 1],
    ]);
    expect(await recordActivity(sent.recordActivityId)).toMatchObject({ email_opened: 1, email_clicked: 1 });
  });

  it("machine hits leave every child waiting", async () => {
    const sent = await sentEmail();
    await request(`/o/${sent.openKey}.gif`, { headers: { "user-agent": "Mozilla/5.0" } });
    await request(`/l/${sent.clickKey}`, { headers: { "user-agent": "curl/8.4.0" } });
    await request(`/l/${sent.clickKey}`, {
      headers: { referer: "https://eur02.safelinks.protection.outlook.com/?url=x" },
    });
    for (const id of [sent.children.opened, sent.children.clicked]) {
      expect(await recordActivity(id)).toMatchObject({ state: "waiting", at: null });
    }
    expect(await recordActivity(sent.children.notClicked)).toMatchObject({ state: "waiting" });
    expect((await hitsOf(sent.recordActivityId)).map((h) => h.reason)).toEqual([
      "apple_mpp_prefetch",
      "scanner_user_agent:http_library",
      "scanner_referrer:microsoft_safelinks",
    ]);
  });
});
