import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiClient, type OpenBrowser, openBrowser, TOKEN } from "../browser/harness.mjs";
import { type Sent, sendCorpus } from "./corpus";
import { axeSource } from "./tools.mjs";

/** A desktop and a phone: every page is checked at both widths. */
const WIDTHS = [1280, 375] as const;
/** axe-core impacts that fail the check; minor and moderate ones are printed only. */
const FAILING = new Set(["serious", "critical"]);

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** What the spec uses of axe-core's global. */
interface AxeGlobal {
  run(context: unknown): Promise<{ violations: Violation[] }>;
}

const base = inject("base");
const api = apiClient(base);
const axe = axeSource();
let corpus: Sent[];
let browser: OpenBrowser;
let page: Page;
const report: string[] = [];
const failures: string[] = [];

/** Runs axe-core on the page as it is, at each width; records every violation, by page and width. */
async function check(name: string) {
  for (const width of WIDTHS) {
    await page.setViewportSize({ width, height: 900 });
    if (!(await page.evaluate(() => "axe" in globalThis))) await page.evaluate(axe);
    const violations = await page.evaluate(async () => {
      // axe-core, injected above, in the page (the project's TypeScript program has no DOM types).
      const g = globalThis as unknown as { axe: AxeGlobal; document: unknown };
      return (await g.axe.run(g.document)).violations;
    });
    const list = violations.map((v) => `${v.impact ?? "?"} ${v.id} (${v.nodes.length}: ${v.help})`);
    report.push(`  ${`${name} @ ${width}px`.padEnd(46)} ${list.length === 0 ? "no violation" : list.join("; ")}`);
    for (const v of violations) {
      if (FAILING.has(v.impact ?? "")) {
        failures.push(
          `${name} @ ${width}px: ${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`,
        );
      }
    }
  }
}

async function visit(name: string, path: string) {
  const res = await page.goto(`${base}${path}`);
  expect(res, path).not.toBeNull();
  await check(name);
}

/** The token of a recipient link (`/u/…`, `/p/…`, `/c/…`) in an e-mail's HTML. */
function link(m: Sent | undefined, kind: "u" | "p" | "c"): string {
  const href = new RegExp(`href="[^"]*(/${kind}/[^"]+)"`).exec(m?.html ?? "")?.[1];
  if (!href) throw new Error(`no /${kind}/ link in ${m?.name}`);
  return href;
}

beforeAll(async () => {
  corpus = await sendCorpus(base, api, "axe");
  await api("POST", "/suppressions", { address: "bounced@example.com" });
  browser = await openBrowser({ bypassCSP: true });
  page = browser.page;
});

afterAll(async () => {
  await browser?.close();
  process.stdout.write(`[checks] axe-core violations per page (failing: serious, critical):\n${report.join("\n")}\n`);
});

describe("every console and recipient page as axe-core checks it, at 1280 px and 375 px", () => {
  it("has no serious or critical violation on the recipient pages", async () => {
    const news = corpus.find((m) => m.name === "newsletter");
    const french = corpus.find((m) => m.name === "translated (fr)");
    const confirmation = corpus.find((m) => m.name === "confirmation");
    await visit("preference centre", link(news, "p"));
    await page.locator('button[value="save"]').click();
    await page.waitForLoadState();
    await check("preference centre, saved");
    await visit("unsubscribe (fr)", link(french, "u"));
    await visit("unsubscribe", link(news, "u"));
    await page.locator("form button").first().click();
    await page.waitForLoadState();
    await check("unsubscribed");
    await visit("double opt-in", link(confirmation, "c"));
    await page.locator("form button").first().click();
    await page.waitForLoadState();
    await check("double opt-in, answered");
    await visit("recipient link not found", "/u/no-such-token");
    expect(failures).toEqual([]);
  });

  it("has no serious or critical violation on the console's pages", async () => {
    const news = corpus.find((m) => m.name === "newsletter") as Sent;
    await visit("console: sign in", "/console/login");
    await page.getByLabel("Admin token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/console/scenarios`);
    await check("console: scenarios");
    await visit("console: scenario", `/console/scenarios/${news.scenarioId}`);
    const records = await api("GET", `/scenarios/${news.scenarioId}/records`);
    await visit("console: recipient timeline", `/console/scenario-records/${records.items[0].id}`);
    for (const m of corpus.filter((c) => !c.comparison))
      await visit(`console: e-mail (${m.name})`, `/console/emails/${m.id}`);
    await visit("console: suppressions", "/console/suppressions");
    await visit("console: page not found", "/console/no-such-page");
    await visit("API documentation", "/api/docs");
    expect(failures).toEqual([]);
  });
});
