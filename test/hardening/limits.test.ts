import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DOMAIN_LIMITS } from "../../src/domain/types";
import { MAX_BATCH, MAX_FIELDS_BYTES } from "../../src/engine/records/records";
import { onError } from "../../src/http/errors";
import { api, expectError, ok } from "../helpers";

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** Fields whose JSON takes exactly `size` bytes (UTF-8), with multi-byte characters to count bytes, not characters. */
function fieldsOf(size: number, extra: Record<string, unknown> = {}) {
  const base = { ...extra, note: "" };
  const room = size - bytes(base);
  const accents = Math.floor(room / 4);
  const note = "é".repeat(accents) + "x".repeat(room - accents * 2);
  const fields = { ...extra, note };
  expect(bytes(fields)).toBe(size);
  return fields;
}

describe("size limits the storage honours (D1: 2,000,000-byte strings and rows, 100 bound parameters)", () => {
  it("one record's fields: exactly the limit in UTF-8 bytes is stored; one byte more is a 400 naming it", async () => {
    const at = await api("PUT", "/records/party/big", fieldsOf(MAX_FIELDS_BYTES, { name: "Big" }));
    expect(at.status, JSON.stringify(at.body).slice(0, 200)).toBe(201);
    const back = await ok("GET", "/records/party/big");
    expect(bytes(back.fields)).toBe(MAX_FIELDS_BYTES);
    expectError(
      await api("PUT", "/records/party/big", fieldsOf(MAX_FIELDS_BYTES + 1, { name: "Big" })),
      400,
      `more than the limit of ${MAX_FIELDS_BYTES}`,
    );
  });

  it("a batch of records at the field limit is stored whole, however many D1 statements it takes", async () => {
    // 120 records of 64 KiB: 7.7 MB, within the 8 MiB request body, four times what one D1 string holds.
    const records = Array.from({ length: 120 }, (_, i) => ({ id: `bt${i}`, ...fieldsOf(MAX_FIELDS_BYTES - 20) }));
    const res = await api("POST", "/records/party/batch", { records });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expect(res.body).toEqual({ upserted: 120 });
    const row = await env.DB.prepare("SELECT count(*) AS n FROM records WHERE id LIKE 'bt%'").first<{ n: number }>();
    expect(row?.n).toBe(120);
  });

  it(`a batch of ${MAX_BATCH} records is stored; ${MAX_BATCH + 1} is a 400 naming the limit`, async () => {
    const records = Array.from({ length: MAX_BATCH }, (_, i) => ({ id: `m${i}`, name: `Member ${i}`, n: i }));
    expect(await ok("POST", "/records/party/batch", { records })).toEqual({ upserted: MAX_BATCH });
    records.push({ id: "m-extra", name: "one too many", n: 0 });
    expectError(await api("POST", "/records/party/batch", { records }), 400, `at most ${MAX_BATCH} records`);
  });

  it("a request body over 8 MiB is a 413 naming the limit", async () => {
    const records = Array.from({ length: 140 }, (_, i) => ({ id: `o${i}`, ...fieldsOf(MAX_FIELDS_BYTES - 20) }));
    expectError(await api("POST", "/records/party/batch", { records }), 413, "8 MiB");
  });

  it("a domain of 256 KiB, with a 10,000-value in list, is stored, previewed and enrolled; beyond is a 400", async () => {
    await ok("PUT", "/records/party/v42", { name: "In the list" });
    const values = Array.from({ length: DOMAIN_LIMITS.maxInList }, (_, i) => `v${i}`.padEnd(22, "x"));
    values[42] = "v42";
    const domain = [["id", "in", values]];
    const pad = DOMAIN_LIMITS.maxBytes - bytes([...domain, ["name", "!=", ""]]);
    const full = [...domain, ["name", "!=", "y".repeat(Math.min(pad, 1000))]];
    // Fill up to the limit with more clauses of at most 1,000 characters each.
    while (bytes(full) < DOMAIN_LIMITS.maxBytes - 1100) full.push(["name", "!=", "z".repeat(1000)]);
    const last = DOMAIN_LIMITS.maxBytes - bytes([...full, ["name", "!=", ""]]);
    full.push(["name", "!=", "w".repeat(last)]);
    expect(bytes(full)).toBe(DOMAIN_LIMITS.maxBytes);
    const created = await api("POST", "/scenarios", { name: "Big domain", model: "party", domain: full });
    expect(created.status, JSON.stringify(created.body).slice(0, 300)).toBe(201);
    expect(created.body.record_count).toBe(1);
    await ok("POST", `/scenarios/${created.body.id}/run`);
    expect((await ok("POST", "/jobs/enroll")).failed ?? []).toEqual([]);
    const srs = await ok("GET", `/scenarios/${created.body.id}/records`);
    expect(srs.items.map((r: { record_id: string }) => r.record_id)).toEqual(["v42"]);
    full.push(["name", "!=", "q"]);
    expectError(
      await api("POST", "/scenarios", { name: "Too big", model: "party", domain: full }),
      400,
      `more than the limit of ${DOMAIN_LIMITS.maxBytes}`,
    );
  });

  it("a domain of 40 clauses on party fields (two bound parameters each) runs as a domain and as a condition", async () => {
    await ok("PUT", "/records/party/pam", { name: "Pam", email: "pam@example.com" });
    await ok("PUT", "/records/sale/s-pam", { party: "pam", state: "confirmed" });
    const clauses = Array.from({ length: DOMAIN_LIMITS.maxClauses }, (_, i) => [`party.f${i}`, "=", null]);
    const s = await api("POST", "/scenarios", { name: "Forty", model: "sale", domain: clauses });
    expect(s.status, JSON.stringify(s.body)).toBe(201);
    expect(s.body.record_count).toBe(1);
    await ok("POST", `/scenarios/${s.body.id}/activities`, { name: "Checked", condition: clauses.slice(0, 39) });
    await ok("POST", `/scenarios/${s.body.id}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const ras = await ok("GET", `/scenarios/${s.body.id}/record-activities`);
    expect(ras.items.map((r: { state: string }) => r.state)).toEqual(["done"]);
    const more = [...clauses, ["party.extra", "=", null]];
    expectError(await api("POST", "/scenarios", { name: "Too many", model: "sale", domain: more }), 400, "clauses");
  });
});

describe("error logs never echo request bodies", () => {
  afterEach(() => vi.restoreAllMocks());

  it("an unexpected error is logged with its message cut and a few frames", async () => {
    const logged: string[] = [];
    vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
      logged.push(args.map(String).join(" "));
    });
    const app = new Hono();
    app.onError(onError);
    const secret = "s3cr3t-".repeat(100_000);
    app.post("/boom", async (c) => {
      throw new Error(`D1_ERROR: could not store ${await c.req.text()}`);
    });
    const res = await app.request("/boom", { method: "POST", body: secret });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal", message: "internal error" } });
    const all = logged.join("\n");
    expect(all).toContain("D1_ERROR: could not store");
    expect(all.length).toBeLessThan(3000);
  });
});
