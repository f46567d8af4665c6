import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { ok } from "../helpers";
import { buildScenario, recordActivityOf } from "./fixtures";

const DAY = 86_400_000;
const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

afterEach(() => {
  vi.useRealTimers();
});

/** A recipient's request on a tracking URL, waiting for the work the Worker defers. */
async function visit(url: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(url, { redirect: "manual", ...init, headers: { "user-agent": CHROME, ...init.headers } }),
    env as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return res;
}

async function emailsOf(scenarioId: string) {
  return (await ok("GET", `/emails?scenario_id=${scenarioId}&limit=500`)).items as {
    id: string;
    to: string;
    status: string;
    record_activity_id: string;
    activity_id: string;
  }[];
}

/** The tracking URLs in an archived e-mail's HTML. */
async function trackingUrls(emailId: string) {
  const email = await ok("GET", `/emails/${emailId}`);
  const urls = [...(email.html as string).matchAll(/(?:href|src)="([^"]+)"/g)].map((m) =>
    (m[1] as string).replace(/&amp;/g, "&"),
  );
  return {
    click: urls.find((u) => u.includes("/l/")) as string,
    pixel: urls.find((u) => u.includes("/o/")) as string,
    unsubscribe: urls.find((u) => u.includes("/u/")) as string,
  };
}

describe("reference scenario (a): a party scenario with opened, clicked, not clicked and a reminder", () => {
  it("runs end to end through the API and the tracking URLs", async () => {
    await ok("POST", "/records/party/batch", {
      records: [
        { id: "michael", name: "Michael Scott", email: "michael@example.com", cohort: "a" },
        { id: "pam", name: "Pam Beesly", email: "pam@example.com", cohort: "a" },
      ],
    });
    const template =
      '<html><body><p>Hello {{party.name}}</p><a href="https://shop.example/offer">See the offer</a> <a href="unsubscribe">Unsubscribe</a></body></html>';
    const { scenarioId, activity } = await buildScenario(
      { name: "Reference A", model: "party", domain: [["cohort", "=", "a"]] },
      [
        { name: "Mail", action: "send_email", email_title: "Hi {{party.name}}", email_template: template },
        { name: "Opened", parent: "Mail", on: "email_opened" },
        {
          name: "Clicked",
          parent: "Mail",
          on: "email_clicked",
          action: "send_email",
          email_title: "Thanks",
          email_template: "<p>Thanks!</p>",
        },
        { name: "Not clicked", parent: "Mail", on: "email_not_clicked", delay: "P2D" },
        { name: "Reminder", parent: "Mail" },
      ],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    await ok("POST", "/jobs/process");

    // One e-mail each, sent; the reminder (no on, no delay) is done.
    const sent = await emailsOf(scenarioId);
    expect(sent.map((e) => e.to).sort()).toEqual([
      '"Michael Scott" <michael@example.com>',
      '"Pam Beesly" <pam@example.com>',
    ]);
    expect(sent.every((e) => e.status === "sent")).toBe(true);
    for (const who of ["michael", "pam"]) {
      expect(await recordActivityOf(scenarioId, activity.Mail as string, who)).toMatchObject({ state: "done" });
      expect(await recordActivityOf(scenarioId, activity.Reminder as string, who)).toMatchObject({ state: "done" });
      expect(await recordActivityOf(scenarioId, activity.Opened as string, who)).toMatchObject({
        state: "waiting",
        at: null,
      });
    }

    // Michael opens (the pixel) and then clicks, a little later than a link scanner would.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 60_000);
    const michaelMail = sent.find((e) => e.to.includes("michael")) as { id: string };
    const urls = await trackingUrls(michaelMail.id);
    const pixel = await visit(urls.pixel);
    expect(pixel.status).toBe(200);
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(scenarioId, activity.Opened as string, "michael")).toMatchObject({ state: "done" });
    expect(await recordActivityOf(scenarioId, activity.Clicked as string, "michael")).toMatchObject({
      state: "waiting",
      at: null,
    });

    const click = await visit(urls.click);
    expect(click.status).toBe(302);
    expect(click.headers.get("location")).toBe("https://shop.example/offer");
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(scenarioId, activity.Clicked as string, "michael")).toMatchObject({ state: "done" });
    expect(await recordActivityOf(scenarioId, activity["Not clicked"] as string, "michael")).toMatchObject({
      state: "cancelled",
      reason: "the e-mail was clicked",
    });
    expect((await emailsOf(scenarioId)).filter((e) => e.activity_id === activity.Clicked)).toHaveLength(1);

    // Two days later, Pam, who never clicked, gets the "not clicked" branch.
    vi.setSystemTime(Date.now() + 2 * DAY);
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(scenarioId, activity["Not clicked"] as string, "pam")).toMatchObject({
      state: "done",
    });
    expect(await recordActivityOf(scenarioId, activity.Clicked as string, "pam")).toMatchObject({ state: "cancelled" });

    // The counts and rates.
    expect(await ok("GET", `/activities/${activity.Mail}`)).toMatchObject({
      record_count: 2,
      email_opened: 1,
      email_clicked: 1,
      email_open_rate: 0.5,
      email_click_rate: 0.5,
      email_click_through_rate: 1,
    });
    expect(await ok("GET", `/activities/${activity.Opened}`)).toMatchObject({ record_count: 1 });
    expect(await ok("GET", `/activities/${activity.Clicked}`)).toMatchObject({ record_count: 1 });
    expect(await ok("GET", `/activities/${activity["Not clicked"]}`)).toMatchObject({ record_count: 1 });
    expect(await ok("GET", `/activities/${activity.Reminder}`)).toMatchObject({ record_count: 2 });
    expect(await ok("GET", `/scenarios/${scenarioId}`)).toMatchObject({
      record_count: 2,
      record_count_blocked: 0,
      block_rate: 0,
    });
  });
});

describe("reference scenario (b): an unsubscribable sale scenario", () => {
  it("unsubscribing from the first sale's e-mail keeps the party's second sale out", async () => {
    await ok("PUT", "/records/party/dwight", { name: "Dwight Schrute", email: "dwight@example.com" });
    await ok("PUT", "/records/sale/d1", { party: "dwight", state: "confirmed" });
    const { scenarioId } = await buildScenario(
      {
        name: "Reference B",
        model: "sale",
        domain: [
          ["state", "=", "confirmed"],
          ["party", "=", "dwight"],
        ],
        unsubscribable: true,
      },
      [
        {
          name: "Mail",
          action: "send_email",
          email_title: "Order {{record.id}}",
          email_template: '<a href="unsubscribe">Stop</a>',
        },
      ],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const [mail] = await emailsOf(scenarioId);
    const { unsubscribe } = await trackingUrls((mail as { id: string }).id);
    // The link shows a page and changes nothing; the button (a POST) unsubscribes.
    expect((await visit(unsubscribe)).status).toBe(200);
    expect((await ok("GET", `/scenarios/${scenarioId}/records?blocked=true`)).items).toHaveLength(0);
    expect((await visit(unsubscribe, { method: "POST" })).status).toBe(200);
    expect((await ok("GET", `/scenarios/${scenarioId}/records?blocked=true`)).items).toHaveLength(1);

    await ok("PUT", "/records/sale/d2", { party: "dwight", state: "confirmed" });
    await ok("POST", "/jobs/enroll");
    const records = (await ok("GET", `/scenarios/${scenarioId}/records`)).items;
    expect(records.map((r: { record_id: string }) => r.record_id)).toEqual(["d1"]);
    expect(await ok("GET", `/scenarios/${scenarioId}`)).toMatchObject({
      record_count: 1,
      record_count_blocked: 1,
      block_rate: 1,
    });
  });
});

describe("sending through the real mailer", () => {
  it("a party without an e-mail address fails with that reason and creates no children", async () => {
    await ok("PUT", "/records/party/noaddress", { name: "Creed Bratton" });
    const { scenarioId, activity } = await buildScenario(
      { name: "No address", model: "party", domain: [["id", "=", "noaddress"]] },
      [
        { name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" },
        { name: "After", parent: "Mail" },
      ],
    );
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(scenarioId, activity.Mail as string, "noaddress")).toMatchObject({
      state: "failed",
      reason: "the party has no e-mail address",
    });
    expect(await recordActivityOf(scenarioId, activity.After as string, "noaddress")).toBeUndefined();
  });

  it("a template that fails to render fails its record activity with the reason, not the batch", async () => {
    await ok("PUT", "/records/party/render", { name: "Render", email: "render@example.com" });
    const { scenarioId, activity } = await buildScenario(
      { name: "Render", model: "party", domain: [["id", "=", "render"]] },
      [
        { name: "Good", action: "send_email", email_title: "Hi", email_template: "<p>{{party.name}}</p>" },
        { name: "Broken", action: "send_email", email_title: "Hi", email_template: "<p>ok</p>" },
      ],
    );
    // A template stored before a stricter check existed, say: it no longer renders.
    await env.DB.prepare("UPDATE activities SET email_template = '{{#open}}' WHERE id = ?").bind(activity.Broken).run();
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    expect(await recordActivityOf(scenarioId, activity.Good as string, "render")).toMatchObject({ state: "done" });
    const broken = await recordActivityOf(scenarioId, activity.Broken as string, "render");
    expect(broken?.state).toBe("failed");
    expect(broken?.reason).toMatch(/template/i);
  });
});
