import { describe, expect, it } from "vitest";
import { signedIn, visit } from "../console/helpers";
import { api, ok } from "../helpers";
import { eventually, postEvents, sentEmails } from "./fixtures";

describe("the console's deliverability pages", () => {
  it("lists the suppression list, adds to it and removes from it, with the CSRF token", async () => {
    await ok("POST", "/suppressions", { address: "listed@example.com", reason: "complaint", source: "test" });
    const { cookie, csrf, html } = await signedIn("/console/suppressions");
    expect(html).toContain('data-suppression="listed@example.com"');
    expect(html).toContain("spam complaint");
    const added = await visit("/console/suppressions", { cookie, form: { csrf, address: "Added@Example.com" } });
    expect(added.status).toBe(303);
    expect((await api("GET", "/suppressions/added@example.com")).body.reason).toBe("manual");
    const forged = await visit("/console/suppressions/remove", {
      cookie,
      form: { csrf: "nope", address: "added@example.com" },
    });
    expect(forged.status).toBe(403);
    expect((await api("GET", "/suppressions/added@example.com")).status).toBe(200);
    const removed = await visit("/console/suppressions/remove", {
      cookie,
      form: { csrf, address: "added@example.com" },
    });
    expect(removed.status).toBe(303);
    expect((await api("GET", "/suppressions/added@example.com")).status).toBe(404);
    const bad = await visit("/console/suppressions", { cookie, form: { csrf, address: "not an address" } });
    expect(bad.status).toBe(400);
  });

  it("shows each e-mail's delivery events on the recipient's timeline", async () => {
    const { scenarioId, emails } = await sentEmails("Timeline deliveries", { tl: "tl@example.com" });
    const email = emails.tl as { id: string; provider_message_id: string };
    await postEvents([
      { id: "tl-1", kind: "delivered", provider_message_id: email.provider_message_id, provider: "sendgrid" },
      { id: "tl-2", kind: "complaint", provider_message_id: email.provider_message_id, detail: "abuse report" },
    ]);
    await eventually(async () => (await api("GET", "/suppressions/tl@example.com")).status === 200);
    const sr = (await ok("GET", `/scenarios/${scenarioId}/records`)).items[0];
    const { html } = await signedIn(`/console/scenario-records/${sr.id}`);
    expect(html).toContain(`data-deliveries="${email.id}"`);
    expect(html).toContain('data-delivery="delivered"');
    expect(html).toContain('data-delivery="complaint"');
    expect(html).toContain("abuse report");
    expect(html).toContain("(sendgrid)");
  });
});
