import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type Api, apiClient, type OpenBrowser, openBrowser, screenshotPath, until } from "./harness.mjs";

const base = inject("base");
const api: Api = apiClient(base);

let scenarioId: string;
let browser: OpenBrowser;
let page: Page;

beforeAll(async () => {
  await api("PUT", "/records/party/dwight", { name: "Dwight Schrute", email: "dwight@example.com", lang: "en" });
  await api("PUT", "/records/sale/beets-1", { party: "dwight", state: "confirmed" });
  const scenario = await api("POST", "/scenarios", {
    name: "Beet farm newsletter",
    model: "sale",
    domain: [["id", "=", "beets-1"]],
    unsubscribable: true,
  });
  scenarioId = scenario.id;
  await api("POST", `/scenarios/${scenarioId}/activities`, {
    name: "Newsletter",
    action: "send_email",
    email_title: "Beets of the month",
    email_template:
      '<p>Hello {{party.name}}, this month: beets.</p><p><a href="unsubscribe">Stop these e-mails</a></p>',
  });
  await api("POST", `/scenarios/${scenarioId}/run`);
  await api("POST", "/jobs/enroll");
  await api("POST", "/jobs/process");
  browser = await openBrowser();
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
});

describe("unsubscribing in a browser", () => {
  it("opens the link of a sent e-mail, confirms with the button, and blocks the scenario record", async () => {
    const sent = await until(async () => (await api("GET", `/emails?scenario_id=${scenarioId}&status=sent`)).items[0], {
      what: "the newsletter to be sent",
    });
    const email = await api("GET", `/emails/${sent.id}`);
    const link = /href="([^"]*\/u\/[^"]+)"/.exec(email.html)?.[1];
    expect(link).toBeDefined();
    expect(link?.startsWith(`${base}/u/`)).toBe(true);

    // Opening the link asks first and changes nothing.
    await page.goto(link as string);
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe(
      "Unsubscribe from “Beet farm newsletter”?",
    );
    await page.screenshot({ path: screenshotPath("unsubscribe-confirm") });
    const before = await api("GET", `/scenarios/${scenarioId}/records`);
    expect(before.items[0].blocked).toBe(false);

    await page.getByRole("button", { name: "Unsubscribe" }).click();
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("You are unsubscribed");
    await expect(page.locator("main").textContent()).resolves.toContain("Beet farm newsletter");
    await page.screenshot({ path: screenshotPath("unsubscribe-done") });

    const after = await api("GET", `/scenarios/${scenarioId}/records`);
    expect(after.items).toHaveLength(1);
    expect(after.items[0]).toMatchObject({ record_id: "beets-1", blocked: true });
    const scenario = await api("GET", `/scenarios/${scenarioId}`);
    expect(scenario).toMatchObject({ record_count: 1, record_count_blocked: 1, block_rate: 1 });

    // The party is out of this scenario: a second sale of Dwight's never enters it.
    await api("PUT", "/records/sale/beets-2", { party: "dwight", state: "confirmed" });
    await api("PATCH", `/scenarios/${scenarioId}`, { domain: [["party", "=", "dwight"]] });
    await api("POST", "/jobs/enroll");
    expect((await api("GET", `/scenarios/${scenarioId}/records`)).items).toHaveLength(1);
  });
});
