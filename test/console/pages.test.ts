import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { recordActivityOf } from "../engine/fixtures";
import { api, ok } from "../helpers";
import { readPage, signedIn, visit } from "./helpers";

const TEMPLATE =
  '<html><body><p>Hello {{party.name}}</p><p><a href="https://shop.example/new?from=mail&amp;x=1">New in</a> · ' +
  '<a href="unsubscribe">Unsubscribe</a></p></body></html>';

let scenarioId: string;
let ids: Record<string, string>;

async function insertHit(recordActivityId: string, activityId: string, human: boolean, reason: string | null) {
  await env.DB.prepare(
    "INSERT INTO hits (kind, record_activity_id, scenario_id, activity_id, human, reason, client, at) VALUES ('open', ?, ?, ?, ?, ?, ?, ?)",
  )
    .bind(Number(recordActivityId), Number(scenarioId), Number(activityId), human ? 1 : 0, reason, "Chrome", Date.now())
    .run();
}

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "pam", name: "Pam Beesly", email: "pam@example.com" },
      { id: "jim", name: "Jim Halpert", email: "jim@example.com" },
      { id: "creed", name: "Creed Bratton" },
    ],
  });
  const scenario = await ok("POST", "/scenarios", {
    name: "Welcome <series>",
    model: "party",
    domain: [["id", "in", ["pam", "jim", "creed"]]],
  });
  scenarioId = scenario.id;
  ids = {};
  const add = async (name: string, body: Record<string, unknown>, parent?: string) => {
    const a = await ok("POST", `/scenarios/${scenarioId}/activities`, {
      name,
      ...body,
      parent_id: parent ? ids[parent] : null,
    });
    ids[name] = a.id;
  };
  await add("Welcome e-mail", {
    action: "send_email",
    email_title: "Welcome {{party.name}}",
    email_template: TEMPLATE,
  });
  await add("Opened", { on: "email_opened" }, "Welcome e-mail");
  await add(
    "Not clicked",
    { on: "email_not_clicked", delay: "P3D", condition: [["email", "!=", null]] },
    "Welcome e-mail",
  );
  await add("Later", { delay: "P7D" });
  await ok("POST", `/scenarios/${scenarioId}/run`);
  await ok("POST", "/jobs/enroll");
  await ok("POST", "/jobs/process");
  // Pam opens her e-mail (a person, by hand here); a scanner fetched the pixel too.
  const pam = (await recordActivityOf(scenarioId, ids["Welcome e-mail"] as string, "pam")) as { id: string };
  await ok("POST", `/record-activities/${pam.id}/opened`);
  await insertHit(pam.id, ids["Welcome e-mail"] as string, true, null);
  await insertHit(pam.id, ids["Welcome e-mail"] as string, false, "scanner_user_agent:proofpoint");
  await ok("POST", "/jobs/process");
});

describe("the scenarios page", () => {
  it("shows each scenario's state and the counts and rates of the API", async () => {
    const { html } = await signedIn("/console/scenarios");
    const page = await readPage(html);
    const listed = await ok("GET", "/scenarios?limit=500");
    expect(listed.items.length).toBeGreaterThan(0);
    for (const s of listed.items) {
      const scope = `scenario:${s.id}`;
      expect(page.statOf(scope, "record_count"), s.name).toBe(s.record_count);
      expect(page.statOf(scope, "record_count_blocked")).toBe(s.record_count_blocked);
      expect(page.statOf(scope, "block_rate")).toBe(s.block_rate);
    }
    expect(html).toContain("Welcome &lt;series&gt;");
    expect(html).toContain('<span class="badge running">running</span>');
  });
});

describe("the scenario page", () => {
  it("draws the activity tree as nested lists, with the API's stats for every node", async () => {
    const { html } = await signedIn(`/console/scenarios/${scenarioId}`);
    const page = await readPage(html);
    const tree = await ok("GET", `/scenarios/${scenarioId}/activities`);
    expect(tree.items).toHaveLength(4);
    for (const a of tree.items) {
      expect(page.parents.get(a.id), a.name).toBe(a.parent_id);
      const scope = `activity:${a.id}`;
      expect(page.statOf(scope, "record_count"), a.name).toBe(a.record_count);
      if (a.action === "send_email") {
        for (const stat of [
          "email_opened",
          "email_clicked",
          "email_open_rate",
          "email_click_rate",
          "email_click_through_rate",
        ]) {
          expect(page.statOf(scope, stat), `${a.name} ${stat}`).toBe(a[stat]);
        }
      }
      // The sparkline's total is the reporting API's, over the same 30 days.
      const report = await ok("GET", `/activities/${a.id}/report`);
      const total = report.items.reduce((n: number, i: { record_count: number }) => n + i.record_count, 0);
      expect(page.statOf(scope, "trend_total"), a.name).toBe(total);
    }
    const mail = tree.items.find((a: { name: string }) => a.name === "Welcome e-mail");
    expect(mail.record_count).toBe(2);
    expect(mail.email_opened).toBe(1);
    expect(html).toContain("when no link is clicked");
    expect(html).toContain("<code>P3D</code>");
    expect(html).toContain("[[&quot;email&quot;,&quot;!=&quot;,null]]");
    expect(html).toMatch(/<svg class="spark" role="img" aria-label="“Welcome e-mail” done per day from /);
  });

  it("shows the scenario's own counts and trend as the API reports them", async () => {
    const { html } = await signedIn(`/console/scenarios/${scenarioId}`);
    const page = await readPage(html);
    const s = await ok("GET", `/scenarios/${scenarioId}`);
    const scope = `scenario:${scenarioId}`;
    expect(page.statOf(scope, "record_count")).toBe(s.record_count);
    expect(s.record_count).toBe(3);
    expect(page.statOf(scope, "record_count_blocked")).toBe(s.record_count_blocked);
    expect(page.statOf(scope, "block_rate")).toBe(s.block_rate);
    const report = await ok("GET", `/scenarios/${scenarioId}/report`);
    const total = report.items.reduce((n: number, i: { record_count: number }) => n + i.record_count, 0);
    expect(page.statOf(scope, "trend_total")).toBe(total);
  });

  it("lists the scenario records with links to their timelines, and the latest e-mails", async () => {
    const { html } = await signedIn(`/console/scenarios/${scenarioId}`);
    const records = await ok("GET", `/scenarios/${scenarioId}/records`);
    for (const r of records.items) expect(html).toContain(`href="/console/scenario-records/${r.id}"`);
    const emails = await ok("GET", `/emails?scenario_id=${scenarioId}`);
    expect(emails.items).toHaveLength(2);
    for (const m of emails.items) expect(html).toContain(`href="/console/emails/${m.id}"`);
  });

  it("answers 404 for an unknown scenario", async () => {
    const { cookie } = await signedIn();
    const res = await visit("/console/scenarios/999999", { cookie });
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("scenario 999999 not found");
    expect((await visit("/console/scenarios/abc", { cookie })).status).toBe(404);
    expect((await visit("/console/nowhere", { cookie })).status).toBe(404);
  });
});

describe("a record's timeline", () => {
  it("lists its record activities in order with state, times and reasons, and its hits classified", async () => {
    const records = await ok("GET", `/scenarios/${scenarioId}/records`);
    const pam = records.items.find((r: { record_id: string }) => r.record_id === "pam");
    const { html } = await signedIn(`/console/scenario-records/${pam.id}`);
    const ras = await ok("GET", `/scenarios/${scenarioId}/record-activities?scenario_record_id=${pam.id}`);
    const shown = [...html.matchAll(/data-record-activity="(\d+)"/g)].map((m) => m[1]);
    // In the order they arose, as ids grow (the API lists them by activity).
    const listed = ras.items.map((r: { id: string }) => r.id);
    expect(shown).toEqual([...listed].sort((a: string, b: string) => Number(a) - Number(b)));
    expect(shown).toHaveLength(4);
    const notClicked = ras.items.find((r: { activity_id: string }) => r.activity_id === ids["Not clicked"]);
    expect(notClicked.state).toBe("waiting");
    const opened = ras.items.find((r: { activity_id: string }) => r.activity_id === ids.Opened);
    expect(opened.state).toBe("done");
    expect(html).toContain('<span class="badge done">done</span>');
    expect(html).toContain('<span class="badge waiting">waiting</span>');
    expect(html).toContain(`<time datetime="${notClicked.at}">`);
    expect(html).toContain('<span class="badge human">human</span>');
    expect(html).toContain('<span class="badge machine">machine</span>');
    expect(html).toContain("<code>scanner_user_agent:proofpoint</code>");
  });

  it("says why a branch failed", async () => {
    const records = await ok("GET", `/scenarios/${scenarioId}/records`);
    const creed = records.items.find((r: { record_id: string }) => r.record_id === "creed");
    const { html } = await signedIn(`/console/scenario-records/${creed.id}`);
    expect(html).toContain('<span class="badge failed">failed</span>');
    expect(html).toContain("the party has no e-mail address");
  });
});

describe("the e-mail page", () => {
  it("shows the headers and the archived HTML in a sandboxed frame", async () => {
    const emails = await ok("GET", `/emails?scenario_id=${scenarioId}`);
    const email = await ok("GET", `/emails/${emails.items[0].id}`);
    const { cookie } = await signedIn();
    const res = await visit(`/console/emails/${email.id}`, { cookie });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("frame-src 'self'");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain(`<iframe class="frame" sandbox="" src="/console/emails/${email.id}/body"`);
    expect(html).toContain(`<th scope="row">Message-ID</th>`);
    expect(html).toContain(email.message_id.replace(/</g, "&lt;").replace(/>/g, "&gt;"));
    expect(html).toContain("List-Unsubscribe-Post");
  });

  it("serves the HTML sandboxed, with its tracking disarmed", async () => {
    const emails = await ok("GET", `/emails?scenario_id=${scenarioId}`);
    const email = await ok("GET", `/emails/${emails.items[0].id}`);
    expect(email.html).toMatch(/\/o\/[A-Za-z0-9_-]+\.gif/);
    const { cookie } = await signedIn();
    const res = await visit(`/console/emails/${email.id}/body`, { cookie });
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/^sandbox;/);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    const body = await res.text();
    expect(body).toContain("Hello ");
    expect(body).toContain('href="https://shop.example/new?from=mail&amp;x=1"');
    expect(body).not.toMatch(/\/l\/|\/o\/|\/u\//);
    const hits = await env.DB.prepare("SELECT count(*) AS n FROM hits WHERE email_id = ?")
      .bind(Number(email.id))
      .first();
    expect(hits?.n).toBe(0);
  });

  it("answers 404 for an unknown e-mail", async () => {
    const { cookie } = await signedIn();
    expect((await visit("/console/emails/999999", { cookie })).status).toBe(404);
    expect((await visit("/console/emails/999999/body", { cookie })).status).toBe(404);
  });
});

describe("scenario actions", () => {
  const state = async () => (await ok("GET", `/scenarios/${scenarioId}`)).state;
  const action = (name: string) => `/console/scenarios/${scenarioId}/${name}`;

  it("refuses a POST without the session, or with a missing, wrong or foreign CSRF token: 403, nothing changes", async () => {
    const { cookie, csrf } = await signedIn();
    const other = await signedIn();
    expect(await state()).toBe("running");
    const refused = [
      await visit(action("stop"), { cookie, form: {} }),
      await visit(action("stop"), { cookie, form: { csrf: "" } }),
      await visit(action("stop"), { cookie, form: { csrf: `${csrf}x` } }),
      await visit(action("stop"), { cookie, form: { csrf: other.csrf } }),
      await visit(action("stop"), { form: { csrf } }),
      await visit(action("stop"), { cookie: other.cookie, form: { csrf } }),
      await visit(action("stop"), { cookie, form: { csrf }, headers: { origin: "https://evil.example" } }),
      await visit(action("stop"), { cookie, form: { csrf }, headers: { "sec-fetch-site": "cross-site" } }),
      await visit(action("stop"), { cookie, method: "POST", headers: { "content-type": "application/json" } }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(403);
      expect(await res.text()).toContain("Nothing was changed");
    }
    expect(await state()).toBe("running");
  });

  it("stops, runs and puts back in draft with the session's CSRF token", async () => {
    const { cookie, csrf } = await signedIn(`/console/scenarios/${scenarioId}`);
    const stop = await visit(action("stop"), { cookie, form: { csrf } });
    expect(stop.status).toBe(303);
    expect(stop.headers.get("location")).toBe(`/console/scenarios/${scenarioId}`);
    expect(await state()).toBe("stopped");
    const page = await (await visit(`/console/scenarios/${scenarioId}`, { cookie })).text();
    expect(page).toContain('<span class="badge stopped">stopped</span>');
    expect(page).toContain('data-action="run"');
    expect(page).toContain('data-action="draft"');

    const run = await visit(action("run"), { cookie, form: { csrf, back: "/console/scenarios" } });
    expect(run.status).toBe(303);
    expect(run.headers.get("location")).toBe("/console/scenarios");
    expect(await state()).toBe("running");

    // A transition the state does not allow is the API's 409, as a page.
    const wrong = await visit(action("draft"), { cookie, form: { csrf } });
    expect(wrong.status).toBe(409);
    expect(await wrong.text()).toContain("is running");
    expect(await state()).toBe("running");

    await visit(action("stop"), { cookie, form: { csrf } });
    const draft = await visit(action("draft"), { cookie, form: { csrf } });
    expect(draft.status).toBe(303);
    expect(await state()).toBe("draft");
    await visit(action("run"), { cookie, form: { csrf } });
    expect(await state()).toBe("running");
  });

  it("a POST for an unknown scenario is a 404 that changes nothing", async () => {
    const { cookie, csrf } = await signedIn();
    const res = await visit("/console/scenarios/999999/stop", { cookie, form: { csrf } });
    expect(res.status).toBe(404);
    expect((await api("GET", "/scenarios/999999")).status).toBe(404);
  });
});

describe("accessible markup", () => {
  it("every page has a language, one h1, headings in order, labelled inputs and table headers", async () => {
    const records = await ok("GET", `/scenarios/${scenarioId}/records`);
    const emails = await ok("GET", `/emails?scenario_id=${scenarioId}`);
    const { cookie } = await signedIn();
    for (const path of [
      "/console/scenarios",
      `/console/scenarios/${scenarioId}`,
      `/console/scenario-records/${records.items[0].id}`,
      `/console/emails/${emails.items[0].id}`,
    ]) {
      const html = await (await visit(path, { cookie })).text();
      expect(html, path).toContain('<html lang="en">');
      expect(html.match(/<h1[\s>]/g), path).toHaveLength(1);
      const levels = [...html.matchAll(/<h([1-6])[\s>]/g)].map((m) => Number(m[1]));
      for (let i = 1; i < levels.length; i++)
        expect(levels[i] as number, path).toBeLessThanOrEqual((levels[i - 1] as number) + 1);
      for (const input of html.match(/<input[^>]*>/g) ?? []) {
        if (input.includes('type="hidden"')) continue;
        const id = /id="([^"]+)"/.exec(input)?.[1];
        expect(html, `${path}: ${input}`).toContain(`<label for="${id}"`);
      }
      for (const table of html.match(/<table[\s\S]*?<\/table>/g) ?? []) {
        expect(table, path).toContain("<caption>");
        expect(table, path).toContain('<th scope="col"');
      }
      expect(html).toContain('<a class="skip" href="#main">');
    }
  });
});
