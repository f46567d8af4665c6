import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, BASE, expectError } from "../helpers";

const routes: [string, string][] = [
  ["GET", "/models"],
  ["POST", "/models"],
  ["PUT", "/records/party/a"],
  ["POST", "/records/party/batch"],
  ["GET", "/records/party"],
  ["GET", "/records/party/a"],
  ["DELETE", "/records/party/a"],
  ["POST", "/scenarios"],
  ["GET", "/scenarios"],
  ["GET", "/scenarios/1"],
  ["PATCH", "/scenarios/1"],
  ["DELETE", "/scenarios/1"],
  ["POST", "/scenarios/1/run"],
  ["GET", "/scenarios/1/enrollment"],
  ["POST", "/scenarios/1/stop"],
  ["POST", "/scenarios/1/draft"],
  ["POST", "/scenarios/1/activities"],
  ["GET", "/scenarios/1/activities"],
  ["GET", "/activities/1"],
  ["PATCH", "/activities/1"],
  ["DELETE", "/activities/1"],
  ["GET", "/scenarios/1/records"],
  ["POST", "/scenario-records/1/block"],
  ["POST", "/scenario-records/1/unblock"],
  ["GET", "/scenarios/1/record-activities"],
  ["POST", "/record-activities/1/opened"],
  ["POST", "/record-activities/1/clicked"],
  ["POST", "/jobs/enroll"],
  ["POST", "/jobs/process"],
];

describe("admin API authentication", () => {
  it.each(routes)("%s %s without a token is 401", async (method, path) => {
    const res = await api(method, path, method === "GET" || method === "DELETE" ? undefined : {}, { token: null });
    expectError(res, 401, "missing bearer token");
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });

  it.each(routes)("%s %s with a wrong token is 401", async (method, path) => {
    const res = await api(method, path, method === "GET" || method === "DELETE" ? undefined : {}, { token: "nope" });
    expectError(res, 401, "invalid bearer token");
  });

  it("accepts the right token, case-insensitive scheme", async () => {
    const res = await SELF.fetch(`${BASE}/api/models`, { headers: { authorization: "bearer test-admin-token" } });
    expect(res.status).toBe(200);
  });

  it("refuses a token that only shares a prefix", async () => {
    expectError(await api("GET", "/models", undefined, { token: "test-admin-token-and-more" }), 401);
    expectError(await api("GET", "/models", undefined, { token: "test-admin" }), 401);
  });

  it("serves the OpenAPI document and its page without a token", async () => {
    const doc = await api("GET", "/openapi.json", undefined, { token: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(["/api/scenarios", "/api/scenarios/{id}/run", "/api/records/{model}/batch"]),
    );
    expect(doc.body.components.schemas.Scenario.properties.block_rate).toBeDefined();
    const page = await SELF.fetch(`${BASE}/api/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).toContain("/api/scenarios/{id}/run");
  });

  it("answers unknown API paths with the JSON error body", async () => {
    expectError(await api("GET", "/nothing-here"), 404, "no route");
  });
});
