import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TIMELINE_HITS } from "../../src/console/data";
import { signedIn } from "../console/helpers";
import { buildScenario, recordActivities } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

describe("no silent drops: what the API would not store is refused, naming it", () => {
  it("a __proto__ field in a record, at any depth and in a batch, is a 400 naming its path", async () => {
    expectError(
      await api("PUT", "/records/party/p1", '{"name": "Pam", "__proto__": {"admin": true}}'),
      400,
      "__proto__: this field name cannot be stored",
    );
    expectError(
      await api("PUT", "/records/party/p1", '{"name": "Pam", "address": {"city": "Scranton", "__proto__": 1}}'),
      400,
      "address.__proto__",
    );
    expectError(
      await api("PUT", "/records/party/p1", '{"tags": [{"ok": 1}, {"__proto__": null}]}'),
      400,
      "tags[1].__proto__",
    );
    expectError(
      await api("POST", "/records/party/batch", '{"records": [{"id": "a"}, {"id": "b", "__proto__": {"x": 1}}]}'),
      400,
      "records[1].__proto__",
    );
    // Nothing was written by the refused calls.
    expectError(await api("GET", "/records/party/p1"), 404);
    expectError(await api("GET", "/records/party/a"), 404);
    // Field names that are merely unusual are stored as sent.
    const stored = await ok("PUT", "/records/party/p2", { constructor: "c", prototype: "p", name: "Pam" });
    expect(stored.fields).toEqual({ constructor: "c", prototype: "p", name: "Pam" });
  });

  it("record fields nested deeper than 32 levels are refused before they reach SQLite's JSON functions", async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    expectError(await api("PUT", "/records/party/deep", { deep }), 400, "deeper than 32 levels");
  });

  it("an unknown key in a body is a 400 naming it", async () => {
    expectError(
      await api("POST", "/scenarios", '{"name": "a", "model": "party", "__proto__": {"state": "running"}}'),
      400,
      '"__proto__"',
    );
    expectError(await api("POST", "/scenarios", { name: "a", model: "party", domian: [] }), 400, '"domian"');
    const s = await ok("POST", "/scenarios", { name: "a", model: "party" });
    expectError(await api("POST", `/scenarios/${s.id}/activities`, { name: "x", dealy: "P1D" }), 400, '"dealy"');
  });

  it("an unknown query parameter of a list is a 400 naming it, not a filter quietly ignored", async () => {
    const s = await ok("POST", "/scenarios", { name: "q", model: "party" });
    expectError(await api("GET", `/scenarios/${s.id}/record-activities?sate=waiting`), 400, '"sate"');
    expectError(await api("GET", "/scenarios?stat=running"), 400, '"stat"');
    expectError(await api("GET", "/records/party?limt=5"), 400, '"limt"');
    expectError(await api("GET", "/emails?scenario=1"), 400, '"scenario"');
    expectError(await api("GET", `/scenarios/${s.id}/report?perod=month`), 400, '"perod"');
    expect((await api("GET", `/scenarios/${s.id}/record-activities?state=waiting&limit=5`)).status).toBe(200);
  });
});

describe("no silent drops: a cut list says so and offers the next page", () => {
  it("a timeline with more tracking hits than a page shows says so and links to the next hits", async () => {
    await ok("PUT", "/records/party/hit", { name: "Hit", email: "hit@example.com" });
    const built = await buildScenario({ name: "Hits", model: "party", domain: [["id", "=", "hit"]] }, [
      { name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" },
    ]);
    await ok("POST", `/scenarios/${built.scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const [ra] = await recordActivities(built.scenarioId);
    const total = TIMELINE_HITS + 5;
    const insert = env.DB.prepare(
      "INSERT INTO hits (kind, record_activity_id, scenario_id, activity_id, human, reason, client, at) SELECT 'open', ?1, ?2, ?3, 0, 'apple_mpp', 'Mail', ?4 + value FROM json_each(?5)",
    );
    await insert
      .bind(
        Number(ra?.id),
        Number(built.scenarioId),
        Number(ra?.activity_id),
        Date.now(),
        JSON.stringify(Array.from({ length: total }, (_, i) => i)),
      )
      .run();
    const first = await signedIn(`/console/scenario-records/${ra?.scenario_record_id}`);
    expect([...first.html.matchAll(/data-hit="/g)]).toHaveLength(TIMELINE_HITS);
    expect(first.html).toContain("data-hits-cut");
    const next = /href="([^"]*hits_after=\d+)" rel="next"/.exec(first.html)?.[1];
    expect(next).toBeDefined();
    const second = await signedIn((next as string).replace(/&amp;/g, "&"));
    expect([...second.html.matchAll(/data-hit="/g)]).toHaveLength(5);
    expect(second.html).not.toContain("data-hits-cut");
    expect(second.html).toContain("data-hits-page");
  });
});
