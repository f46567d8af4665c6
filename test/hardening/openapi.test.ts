import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, BASE, ok } from "../helpers";

/** The OpenAPI document as a client generator reads it. */
async function document() {
  const res = await api("GET", "/openapi.json", undefined, { token: null });
  expect(res.status).toBe(200);
  return res.body;
}

describe("an OpenAPI document that generates working clients", () => {
  it("is valid OpenAPI 3 (swagger-parser validates the schema and every $ref)", async () => {
    const doc = await document();
    const lint = (env as unknown as { OPENAPI_LINT: Fetcher }).OPENAPI_LINT;
    const res = await lint.fetch("http://lint/", { method: "POST", body: JSON.stringify(doc) });
    expect(await res.json()).toEqual({ valid: true, title: "Marketing automation" });
    // The linter does refuse a broken document.
    const broken = { ...doc, paths: { "/api/x": { get: { responses: { 200: { $ref: "#/nowhere" } } } } } };
    const refused = await lint.fetch("http://lint/", { method: "POST", body: JSON.stringify(broken) });
    expect(((await refused.json()) as { valid: boolean }).valid).toBe(false);
  });

  it("names its server and gives full paths, so a client calls the right URLs", async () => {
    const doc = await document();
    expect(doc.servers).toEqual([{ url: BASE, description: "this deployment" }]);
    const paths = Object.keys(doc.paths);
    expect(paths.length).toBeGreaterThan(20);
    for (const path of paths) expect(path, path).toMatch(/^\/api\//);
    // Every path a client would build from server + path answers (not a 404 of the router).
    const probe = await SELF.fetch(`${doc.servers[0].url}${"/api/scenarios"}`, {
      headers: { authorization: "Bearer test-admin-token" },
    });
    expect(probe.status).toBe(200);
  });

  it("gives every operation a unique operationId", async () => {
    const doc = await document();
    const ids: string[] = [];
    for (const item of Object.values(doc.paths) as Record<string, { operationId?: string }>[]) {
      for (const op of Object.values(item)) if (op && typeof op === "object") ids.push(op.operationId as string);
    }
    expect(ids.every((id) => typeof id === "string" && /^[a-z]+[A-Za-z0-9]*$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain("postScenariosIdRun");
  });

  it("the quickstart's calls, run twice on one database, use the ids the API returns and leave the first run alone", async () => {
    const run = async (suffix: string) => {
      await ok("PUT", `/records/party/michael-${suffix}`, { name: "Michael Scott", email: "michael@example.com" });
      await ok("PUT", `/records/sale/s-${suffix}`, { party: `michael-${suffix}`, state: "confirmed", amount: 120 });
      const scenario = await ok("POST", "/scenarios", {
        name: "Thank you",
        model: "sale",
        unsubscribable: true,
        domain: [
          ["state", "=", "confirmed"],
          ["party.email", "!=", null],
        ],
      });
      const mail = await ok("POST", `/scenarios/${scenario.id}/activities`, {
        name: "Thank you e-mail",
        action: "send_email",
        email_title: "Thank you, {{party.name}}",
        email_template: '<p>Hello</p><a href="https://shop.example/reviews">Review</a> <a href="unsubscribe">U</a>',
      });
      await ok("POST", `/scenarios/${scenario.id}/activities`, {
        name: "Clicked",
        parent_id: mail.id,
        on: "email_clicked",
      });
      await ok("POST", `/scenarios/${scenario.id}/activities`, {
        name: "Reminder",
        parent_id: mail.id,
        on: "email_not_clicked",
        delay: "P2D",
        action: "send_email",
        email_title: "Still there?",
        email_template: "<p>We would love your review.</p>",
      });
      await ok("POST", `/scenarios/${scenario.id}/run`);
      return { scenario: scenario.id as string, mail: mail.id as string };
    };
    const first = await run("1");
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const before = await ok("GET", `/scenarios/${first.scenario}/activities`);
    const second = await run("2");
    expect(second.scenario).not.toBe(first.scenario);
    expect(second.mail).not.toBe(first.mail);
    const after = await ok("GET", `/scenarios/${first.scenario}/activities`);
    expect(after.items.map((a: { id: string; parent_id: string | null }) => [a.id, a.parent_id])).toEqual(
      before.items.map((a: { id: string; parent_id: string | null }) => [a.id, a.parent_id]),
    );
    const tree = await ok("GET", `/scenarios/${second.scenario}/activities`);
    expect(tree.items.filter((a: { parent_id: string | null }) => a.parent_id === second.mail)).toHaveLength(2);
  });
});

describe("an OpenAPI document that API tooling (Spectral's spectral:oas) accepts", () => {
  /** Every schema object in the document, with where it is. */
  function schemas(node: unknown, path: string, out: [string, Record<string, unknown>][] = []) {
    if (Array.isArray(node)) {
      for (const [i, n] of node.entries()) schemas(n, `${path}[${i}]`, out);
    } else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "example" || key === "examples" || key === "default") continue;
        if (value && typeof value === "object" && !Array.isArray(value)) out.push([`${path}.${key}`, value as never]);
        schemas(value, `${path}.${key}`, out);
      }
    }
    return out;
  }

  it("writes any value as {} and never nullable without a type (z.unknown())", async () => {
    const doc = await document();
    const bad = schemas(doc, "$").filter(
      ([path, s]) =>
        s.nullable === true &&
        !("type" in s) &&
        !("$ref" in s) &&
        !s.allOf &&
        !s.anyOf &&
        !s.oneOf &&
        !/\.(allOf|anyOf|oneOf)\[\d+\]$/.test(path),
    );
    expect(bad.map(([path]) => path)).toEqual([]);
    expect(doc.components.schemas.Domain.items).toEqual({});
    expect(doc.components.schemas.RecordFields.additionalProperties).toEqual({});
    // A nullable $ref keeps its meaning.
    expect(JSON.stringify(doc)).toContain('{"nullable":true}]');
  });

  it("declares every tag its operations use, gives each operation a description, and names a contact", async () => {
    const doc = await document();
    const declared = new Set((doc.tags as { name: string; description: string }[]).map((t) => t.name));
    const missing: string[] = [];
    for (const [path, item] of Object.entries(doc.paths) as [string, Record<string, any>][]) {
      for (const [method, op] of Object.entries(item)) {
        if (!op || typeof op !== "object" || !op.responses) continue;
        if (!op.tags?.length || op.tags.some((t: string) => !declared.has(t))) missing.push(`${method} ${path}: tags`);
        if (typeof op.description !== "string" || op.description.trim() === "") {
          missing.push(`${method} ${path}: description`);
        }
      }
    }
    expect(missing).toEqual([]);
    expect(doc.info.contact).toEqual({ name: expect.any(String) });
  });
});
