import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type Api,
  apiClient,
  type OpenBrowser,
  openBrowser,
  screenshotPath,
  sleep,
  TOKEN,
  USER_AGENT,
  until,
} from "./harness.mjs";

const base = inject("base");
const api: Api = apiClient(base);

const TEMPLATE =
  "<html><body><h1>Welcome, {{party.name}}</h1><p>Our autumn collection is in.</p>" +
  '<p><a href="https://shop.example/autumn">See the collection</a></p>' +
  '<p><a href="unsubscribe">Unsubscribe</a></p></body></html>';

let scenarioId: string;
let activities: { id: string; name: string; parent_id: string | null }[];
let browser: OpenBrowser;
let page: Page;
const cspErrors: string[] = [];

/** The tracking key of the first link of a kind in an e-mail's HTML. */
function keyIn(html: string, path: "l" | "o"): string {
  const m = new RegExp(`/${path}/([A-Za-z0-9_-]+)`).exec(html);
  if (!m) throw new Error(`no /${path}/ link in the e-mail`);
  return m[1] as string;
}

/** Reads a number the console shows (`data-value`) inside a scope. */
async function stat(scope: string, name: string): Promise<number> {
  const value = await page.locator(`${scope} [data-stat="${name}"]`).first().getAttribute("data-value");
  return Number(value);
}

beforeAll(async () => {
  // Three parties with an address and one without, a scenario whose e-mail branches on opens and clicks.
  await api("POST", "/records/party/batch", {
    records: [
      { id: "ada", name: "Ada Lovelace", email: "ada@example.com", lang: "en" },
      { id: "grace", name: "Grace Hopper", email: "grace@example.com" },
      { id: "alan", name: "Alan Turing", email: "alan@example.com" },
      { id: "nomail", name: "No Mail" },
    ],
  });
  const scenario = await api("POST", "/scenarios", {
    name: "Autumn welcome",
    model: "party",
    domain: [["id", "in", ["ada", "grace", "alan", "nomail"]]],
    unsubscribable: true,
  });
  scenarioId = scenario.id;
  const add = async (body: Record<string, unknown>) =>
    (await api("POST", `/scenarios/${scenarioId}/activities`, body)) as { id: string };
  const mail = await add({
    name: "Welcome e-mail",
    action: "send_email",
    email_title: "Welcome, {{party.name}}",
    email_template: TEMPLATE,
  });
  await add({ name: "Opened it", parent_id: mail.id, on: "email_opened" });
  await add({
    name: "Reminder",
    parent_id: mail.id,
    on: "email_not_clicked",
    delay: "P2D",
    action: "send_email",
    email_title: "Still interested, {{party.name}}?",
    email_template: "<p>The collection is still there.</p>",
  });
  await add({ name: "A week later", delay: "P7D", condition: [["email", "!=", null]] });
  await api("POST", `/scenarios/${scenarioId}/run`);
  await api("POST", "/jobs/enroll");
  await api("POST", "/jobs/process");
  const sent = await until(
    async () => {
      const list = await api("GET", `/emails?scenario_id=${scenarioId}&status=sent`);
      return list.items.length === 3 ? list.items : null;
    },
    { what: "three e-mails sent" },
  );

  // Ada opens her e-mail in a browser (a person: opens within 5 s of delivery count as machines, so wait); a link
  // scanner follows her link (a machine).
  const sentAt = Math.max(...sent.map((m: { sent_at: string }) => Date.parse(m.sent_at)));
  await sleep(Math.max(0, sentAt + 5_500 - Date.now()));
  const ada = await api("GET", `/emails/${sent.find((m: { to: string }) => m.to.includes("ada")).id}`);
  await fetch(`${base}/o/${keyIn(ada.html, "o")}.gif`, { headers: { "user-agent": USER_AGENT } });
  await fetch(`${base}/l/${keyIn(ada.html, "l")}`, {
    redirect: "manual",
    headers: { "user-agent": "Mozilla/5.0 (compatible; Barracuda Sentinel)" },
  });
  await until(
    async () => {
      const ras = await api("GET", `/scenarios/${scenarioId}/record-activities?state=done&limit=500`);
      return ras.items.length >= 4;
    },
    { what: "the opened branch to run" },
  );
  activities = (await api("GET", `/scenarios/${scenarioId}/activities`)).items;

  browser = await openBrowser();
  page = browser.page;
  page.on("console", (msg) => {
    if (msg.type() === "error") cspErrors.push(msg.text());
  });
});

afterAll(async () => {
  await browser?.close();
});

describe("the console in a browser", () => {
  it("sends a visitor to the login page, and signs in with the admin token", async () => {
    await page.goto(`${base}/console/scenarios`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
    await expect(page.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Sign in to the console");
    await page.screenshot({ path: screenshotPath("login") });

    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toContain("This is not the admin token.");

    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/console/scenarios`);
    const cookies = await browser.context.cookies(`${base}/console/`);
    const cookie = cookies.find((c) => c.name === "console_session");
    expect(cookie).toMatchObject({
      name: "console_session",
      path: "/console",
      httpOnly: true,
      secure: true,
      sameSite: "Strict",
    });
    expect(cookie?.expires).toBeGreaterThan(Date.now() / 1000 + 3600);
    // The page after signing in gave the D1 bookmark of its reads (LOCAL_MODE: plain http, so not Secure).
    expect(cookies.find((c) => c.name === "d1_bookmark")).toMatchObject({
      path: "/console",
      httpOnly: true,
      secure: false,
      sameSite: "Lax",
    });
  });

  it("lists the scenarios with the API's numbers", async () => {
    const s = await api("GET", `/scenarios/${scenarioId}`);
    const row = `tr[data-scenario="${scenarioId}"]`;
    expect(await stat(row, "record_count")).toBe(s.record_count);
    expect(s.record_count).toBe(4);
    expect(await stat(row, "record_count_blocked")).toBe(s.record_count_blocked);
    expect(await stat(row, "block_rate")).toBe(s.block_rate);
    await expect(page.locator(`${row} .badge`).textContent()).resolves.toBe("running");
    await page.screenshot({ path: screenshotPath("scenarios"), fullPage: true });
  });

  it("draws the scenario's activity tree with the API's stats and trends", async () => {
    await page.getByRole("link", { name: "Autumn welcome" }).click();
    await page.waitForURL(`${base}/console/scenarios/${scenarioId}`);
    expect(activities).toHaveLength(4);
    for (const a of activities) {
      const node = `li[data-activity="${a.id}"]`;
      const parent = a.parent_id === null ? "ul.tree" : `li[data-activity="${a.parent_id}"] > ul`;
      expect(await page.locator(`${parent} > ${node}`).count(), a.name).toBe(1);
      const stats = await api("GET", `/activities/${a.id}`);
      const scope = `${node} > .node`;
      expect(await stat(scope, "record_count"), a.name).toBe(stats.record_count);
      const report = await api("GET", `/activities/${a.id}/report`);
      const total = report.items.reduce((n: number, i: { record_count: number }) => n + i.record_count, 0);
      expect(await stat(scope, "trend_total"), a.name).toBe(total);
      await expect(page.locator(`${scope} svg.spark`).getAttribute("aria-label")).resolves.toContain(`${total} in all`);
      if (stats.action === "send_email") {
        for (const name of ["email_opened", "email_clicked", "email_open_rate", "email_click_through_rate"]) {
          expect(await stat(scope, name), `${a.name} ${name}`).toBe(stats[name]);
        }
      }
    }
    const mail = await api("GET", `/activities/${activities[0]?.id}`);
    expect(mail).toMatchObject({ record_count: 3, email_opened: 1, email_open_rate: 0.33 });
    await page.screenshot({ path: screenshotPath("scenario"), fullPage: true });
  });

  it("stops and runs the scenario with its buttons", async () => {
    await page.getByRole("button", { name: /^Stop/ }).click();
    await page.waitForURL(`${base}/console/scenarios/${scenarioId}`);
    await expect(page.locator(".summary .badge").first().textContent()).resolves.toBe("stopped");
    expect((await api("GET", `/scenarios/${scenarioId}`)).state).toBe("stopped");
    await page.getByRole("button", { name: /^Run again/ }).click();
    await page.waitForURL(`${base}/console/scenarios/${scenarioId}`);
    await expect(page.locator(".summary .badge").first().textContent()).resolves.toBe("running");
    expect((await api("GET", `/scenarios/${scenarioId}`)).state).toBe("running");
  });

  it("refuses a POST without the session or with a wrong CSRF token", async () => {
    const csrf = await page.locator('input[name="csrf"]').first().inputValue();
    const stop = `${base}/console/scenarios/${scenarioId}/stop`;
    // The browser's own cookie, a wrong token.
    const wrong = await browser.context.request.post(stop, { form: { csrf: "wrong" }, headers: { origin: base } });
    expect(wrong.status()).toBe(403);
    // The right token, no session.
    const anonymous = await fetch(stop, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
      body: new URLSearchParams({ csrf }).toString(),
      redirect: "manual",
    });
    expect(anonymous.status).toBe(403);
    expect((await api("GET", `/scenarios/${scenarioId}`)).state).toBe("running");
  });

  it("opens a record's timeline: every step with its reason, every hit classified", async () => {
    const records = await api("GET", `/scenarios/${scenarioId}/records`);
    const ada = records.items.find((r: { record_id: string }) => r.record_id === "ada");
    await page.getByRole("link", { name: "party ada" }).click();
    await page.waitForURL(`${base}/console/scenario-records/${ada.id}`);
    const ras = await api("GET", `/scenarios/${scenarioId}/record-activities?scenario_record_id=${ada.id}`);
    expect(await page.locator("ol.timeline > li").count()).toBe(ras.items.length);
    for (const ra of ras.items) {
      await expect(page.locator(`li[data-record-activity="${ra.id}"] .badge`).first().textContent()).resolves.toBe(
        ra.state,
      );
    }
    const hits = page.locator("table[data-hits] tbody tr");
    expect(await hits.count()).toBe(2);
    await expect(page.locator("table[data-hits]").textContent()).resolves.toMatch(
      /human[\s\S]*machine|machine[\s\S]*human/,
    );
    await expect(page.locator("table[data-hits]").textContent()).resolves.toContain("scanner");
    await page.screenshot({ path: screenshotPath("timeline"), fullPage: true });
  });

  it("shows an e-mail: headers, and its HTML in a sandboxed frame that tracks nothing", async () => {
    const hitsBefore = await page.locator("table[data-hits] tbody tr").count();
    await page.getByRole("link", { name: "Welcome, Ada Lovelace" }).click();
    await page.waitForURL(/\/console\/emails\/\d+$/);
    const frame = page.frameLocator("iframe.frame");
    await expect(frame.getByRole("heading", { level: 1 }).textContent()).resolves.toBe("Welcome, Ada Lovelace");
    await expect(frame.getByRole("link", { name: "See the collection" }).getAttribute("href")).resolves.toBe(
      "https://shop.example/autumn",
    );
    await expect(page.locator("iframe.frame").getAttribute("sandbox")).resolves.toBe("");
    await expect(page.getByRole("rowheader", { name: "List-Unsubscribe", exact: true }).count()).resolves.toBe(1);
    await page.screenshot({ path: screenshotPath("email"), fullPage: true });
    // Looking at the e-mail fired nothing.
    await page.goBack();
    expect(await page.locator("table[data-hits] tbody tr").count()).toBe(hitsBefore);
  });

  it("reads on a phone and works with the keyboard", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/console/scenarios/${scenarioId}`);
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: screenshotPath("scenario-phone"), fullPage: true });
    await page.keyboard.press("Tab");
    await expect(page.locator(":focus").textContent()).resolves.toBe("Skip to content");
    await page.keyboard.press("Enter");
    await page.keyboard.press("Tab");
    await expect(page.locator("main :focus").count()).resolves.toBe(1);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("loaded nothing the CSP had to block", () => {
    expect(cspErrors.filter((e) => /Content Security Policy|Refused/i.test(e))).toEqual([]);
  });

  it("signs out", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(`${base}/console/login?signed_out=1`);
    expect(await browser.context.cookies(`${base}/console/`)).toEqual([]);
    await page.goto(`${base}/console/scenarios`);
    expect(new URL(page.url()).pathname).toBe("/console/login");
  });
});
