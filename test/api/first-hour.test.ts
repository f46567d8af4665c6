import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { exportPage } from "../../src/engine/runs/export";
import { signedIn, visit } from "../console/helpers";
import { eventually, postEvents, sentEmails } from "../deliveries/fixtures";
import { testEngine } from "../engine/fixtures";
import { api, BASE, expectError, ok, TOKEN } from "../helpers";

describe("a party's preferences", () => {
  it("answer 404 for a party that does not exist, so a typo is not a silent no-op", async () => {
    await ok("PUT", "/topics/fh-offers", { name: "Offers" });
    expectError(
      await api("PATCH", "/parties/nobody-here/preferences", { topics: { "fh-offers": false } }),
      404,
      'party record "nobody-here" not found',
    );
    await ok("PUT", "/records/party/fh-pam", { name: "Pam", email: "pam@example.com" });
    const prefs = await ok("PATCH", "/parties/fh-pam/preferences", { topics: { "fh-offers": false } });
    expect(prefs.topics.find((t: { id: string }) => t.id === "fh-offers").subscribed).toBe(false);
  });
});

describe("a scenario's warnings", () => {
  it("says loudly that a domain of [] takes every record, on create, update and run", async () => {
    await ok("PUT", "/records/party/fh-everyone", { name: "Everyone", email: "everyone@example.com" });
    const created = await ok("POST", "/scenarios", { name: "Everyone", model: "party", domain: [] });
    expect(created.warnings).toHaveLength(1);
    expect(created.warnings[0]).toMatch(/^domain is \[\] : the scenario takes every record of "party" \(\d+ today\)/);
    const scoped = await ok("PATCH", `/scenarios/${created.id}`, { domain: [["id", "=", "fh-everyone"]] });
    expect(scoped.warnings).toEqual([]);
    const again = await ok("PATCH", `/scenarios/${created.id}`, { domain: [] });
    expect(again.warnings[0]).toContain("every record");
    const run = await ok("POST", `/scenarios/${created.id}/run`);
    expect(run.warnings[0]).toContain("every record");
    await ok("POST", `/scenarios/${created.id}/stop`);
  });

  it("accepts a domain over a field no record has, and names the field", async () => {
    await ok("PUT", "/records/party/fh-typo", { name: "Typo", email: "typo@example.com" });
    const res = await api("POST", "/scenarios", { name: "Typo", model: "party", domain: [["emial", "=", "a"]] });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual(['domain: no record of "party" has the field "emial": is it spelled right?']);
    // Known fields, ids and the party's fields of another model are fine; the goal is checked too.
    const sale = await ok("POST", "/scenarios", {
      name: "Sales",
      model: "party",
      domain: [
        ["email", "!=", null],
        ["id", "!=", "x"],
      ],
      goal: [["converted_flag", "=", true]],
    });
    expect(sale.warnings).toEqual(['goal: no record of "party" has the field "converted_flag": is it spelled right?']);
    await ok("PUT", "/records/sale/fh-s1", { party: "fh-typo", state: "confirmed" });
    const sales = await ok("POST", "/scenarios", {
      name: "Sales of parties",
      model: "sale",
      domain: [
        ["state", "=", "confirmed"],
        ["party.email", "!=", null],
        ["party.emial", "=", "a"],
      ],
    });
    expect(sales.warnings).toEqual(['domain: no record of "party" has the field "emial": is it spelled right?']);
  });

  it("documents the warnings and the run's enrollment in the OpenAPI document", async () => {
    const doc = (await api("GET", "/openapi.json")).body;
    const schemas = doc.components.schemas;
    // An extended schema is the base's $ref and its own properties (allOf).
    type Schema = { properties?: Record<string, Schema>; allOf?: Schema[]; type?: string; $ref?: string };
    const property = (s: Schema, name: string): Schema | undefined =>
      s.properties?.[name] ?? s.allOf?.map((part) => property(part, name)).find(Boolean);
    expect(property(schemas.ScenarioWithWarnings, "warnings")?.type).toBe("array");
    expect(property(schemas.ScenarioRun, "enrollment")?.$ref).toBe("#/components/schemas/RunEnrollment");
    expect(Object.keys(schemas.RunEnrollment.properties)).toEqual(["running", "expected"]);
    expect(doc.paths["/api/scenarios/{id}/export"].get.responses["200"].content).toHaveProperty("text/csv");
    // The sign-in throttle's 429, beside every 401 (src/http/sign-in-throttle.ts: the 11th bad token a minute).
    for (const [path, item] of Object.entries(doc.paths) as [string, Record<string, { responses: object }>][]) {
      for (const [method, op] of Object.entries(item)) {
        if ("401" in op.responses) expect(op.responses, `${method} ${path}`).toHaveProperty("429");
      }
    }
    const tooMany = doc.paths["/api/scenarios"].get.responses["429"];
    expect(tooMany.description).toContain("more than 10 bad tokens a minute");
    expect(tooMany.headers).toHaveProperty("Retry-After");
    expect(doc.paths["/api/records/{model}/batch"].post.parameters.map((p: { name: string }) => p.name)).toContain(
      "mode",
    );
  });
});

describe("running a scenario", () => {
  it("says that enrollment is under way and how many records it is expected to take", async () => {
    await ok("POST", "/records/party/batch", {
      records: [1, 2, 3].map((n) => ({
        id: `fh-run-${n}`,
        name: `R${n}`,
        email: `r${n}@example.com`,
        cohort: "fh-run",
      })),
    });
    const s = await ok("POST", "/scenarios", { name: "Run", model: "party", domain: [["cohort", "=", "fh-run"]] });
    await ok("POST", `/scenarios/${s.id}/activities`, { name: "A" });
    const run = await ok("POST", `/scenarios/${s.id}/run`);
    expect(run.state).toBe("running");
    expect(run.record_count).toBe(0);
    expect(run.enrollment).toEqual({ running: true, expected: 3 });
    expect(run.warnings).toEqual([]);
    await ok("POST", `/scenarios/${s.id}/stop`);
  });
});

describe("batch import", () => {
  it("is all or nothing by default", async () => {
    const res = await api("POST", "/records/party/batch", {
      records: [
        { id: "fh-good-0", name: "G" },
        { id: "fh-bad-0", email: "not an address" },
      ],
    });
    expectError(res, 400, "records[1].email");
    expect((await api("GET", "/records/party/fh-good-0")).status).toBe(404);
  });

  it("with mode=partial stores the good rows and reports the bad ones by index", async () => {
    const res = await api("POST", "/records/party/batch?mode=partial", {
      records: [
        { id: "fh-good-1", name: "G1", email: "g1@example.com" },
        { id: "fh-bad-1", email: "not an address" },
        { name: "no id" },
        { id: "fh-good-2", name: "G2" },
        { id: "fh-good-1", name: "G1 again" },
        "not an object",
      ],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.upserted).toBe(2);
    expect(res.body.stored).toEqual(["fh-good-1", "fh-good-2"]);
    expect(res.body.rejected.map((r: { index: number }) => r.index)).toEqual([1, 2, 4, 5]);
    expect(res.body.rejected[0].error).toContain("records[1].email");
    expect(res.body.rejected[2].error).toContain('duplicate id "fh-good-1"');
    expect((await ok("GET", "/records/party/fh-good-1")).fields.name).toBe("G1");
    expect((await api("GET", "/records/party/fh-bad-1")).status).toBe(404);
    expectError(await api("POST", "/records/party/batch?mode=some", { records: [{ id: "x" }] }), 400, "mode");
  });
});

describe("exporting a scenario's results", () => {
  async function exported(scenarioId: string, query = "", headers: Record<string, string> = {}) {
    const res = await SELF.fetch(`${BASE}/api/scenarios/${scenarioId}/export${query}`, {
      headers: { authorization: `Bearer ${TOKEN}`, ...headers },
    });
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  }

  it("gives one row per recipient: address, activities, opened, clicked, bounced, unsubscribed, converted", async () => {
    const { scenarioId, emails } = await sentEmails("Export", {
      "fh-x-angela": "angela@example.com",
      "fh-x-oscar": "=oscar@example.com",
      "fh-x-kevin": "kevin@example.com",
    });
    const ras = (await ok("GET", `/scenarios/${scenarioId}/record-activities?limit=100`)).items as {
      id: string;
      scenario_record_id: string;
    }[];
    const records = (await ok("GET", `/scenarios/${scenarioId}/records?limit=100`)).items as {
      id: string;
      record_id: string;
    }[];
    const sr = (recordId: string) => records.find((r) => r.record_id === recordId)?.id as string;
    const ra = (recordId: string) => ras.find((r) => r.scenario_record_id === sr(recordId))?.id as string;
    await ok("POST", `/record-activities/${ra("fh-x-angela")}/clicked`);
    await ok("POST", `/scenario-records/${sr("fh-x-oscar")}/block`);
    expect(
      (await postEvents([{ id: "fh-x-bounce", kind: "hard_bounce", email_id: emails["fh-x-kevin"]?.id }])).status,
    ).toBeLessThan(300);
    await eventually(async () => (await ok("GET", "/suppressions?limit=100")).items.length > 0);

    const csv = await exported(scenarioId);
    expect(csv.status).toBe(200);
    expect(csv.type).toBe("text/csv; charset=utf-8");
    const lines = csv.text.split("\r\n");
    expect(lines[0]).toBe(
      "scenario_record_id,record_id,party_id,address,activities,opened,clicked,bounced,unsubscribed,converted,converted_at",
    );
    expect(lines.slice(1)).toEqual([
      `${sr("fh-x-angela")},fh-x-angela,fh-x-angela,angela@example.com,Mail,true,true,false,false,false,`,
      `${sr("fh-x-oscar")},fh-x-oscar,fh-x-oscar,'=oscar@example.com,Mail,false,false,false,true,false,`,
      `${sr("fh-x-kevin")},fh-x-kevin,fh-x-kevin,kevin@example.com,Mail,false,false,true,false,false,`,
      "",
    ]);

    const jsonl = await exported(scenarioId, "?format=jsonl");
    expect(jsonl.type).toBe("application/x-ndjson; charset=utf-8");
    const rows = jsonl.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toEqual({
      scenario_record_id: sr("fh-x-angela"),
      record_id: "fh-x-angela",
      party_id: "fh-x-angela",
      address: "angela@example.com",
      activities: ["Mail"],
      opened: true,
      clicked: true,
      bounced: false,
      unsubscribed: false,
      converted: false,
      converted_at: null,
    });
    // Accept chooses JSON lines too; the query wins over it.
    expect((await exported(scenarioId, "", { accept: "application/x-ndjson" })).text).toBe(jsonl.text);
    expect((await exported(scenarioId, "?format=csv", { accept: "application/x-ndjson" })).text).toBe(csv.text);

    // Page by page, with a cursor: the same rows, in the same order.
    const { engine } = testEngine();
    const seen: string[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof exportPage>> = await exportPage(engine, Number(scenarioId), cursor, 1);
      seen.push(...page.rows.map((r) => r.recordId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(seen).toEqual(["fh-x-angela", "fh-x-oscar", "fh-x-kevin"]);
    expect(pages).toBe(3);
  });

  it("answers 404 for a scenario that does not exist, and 400 for an unknown format", async () => {
    expect((await exported("999999")).status).toBe(404);
    const s = await ok("POST", "/scenarios", { name: "Empty export", model: "party", domain: [["id", "=", "none"]] });
    expect((await exported(s.id, "?format=xml")).status).toBe(400);
    const empty = await exported(s.id);
    expect(empty.text).toBe(
      "scenario_record_id,record_id,party_id,address,activities,opened,clicked,bounced,unsubscribed,converted,converted_at\r\n",
    );
    expect((await exported(s.id, "?format=jsonl")).text).toBe("");
  });
});

describe("the console's export", () => {
  it("links the scenario page to its results, and serves them to a signed-in session only", async () => {
    await ok("PUT", "/records/party/fh-c-toby", { name: "Toby", email: "toby@example.com" });
    const s = await ok("POST", "/scenarios", {
      name: "Console export",
      model: "party",
      domain: [["id", "=", "fh-c-toby"]],
    });
    const { cookie, html } = await signedIn(`/console/scenarios/${s.id}`);
    expect(html).toContain(`href="/console/scenarios/${s.id}/export"`);
    expect(html).toContain(`href="/console/scenarios/${s.id}/export?format=jsonl"`);
    const res = await visit(`/console/scenarios/${s.id}/export`, { cookie });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="scenario-${s.id}.csv"`);
    expect(await res.text()).toMatch(/^scenario_record_id,record_id,/);
    const anonymous = await visit(`/console/scenarios/${s.id}/export`);
    expect(anonymous.status).not.toBe(200);
  });
});
