import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, expectError, ok } from "../helpers";

describe("models", () => {
  it("declares a model, idempotently, and refuses a different party field", async () => {
    const created = await api("POST", "/models", { name: "subscription", party_field: "customer" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: "subscription", party_field: "customer", built_in: false });
    expect((await api("POST", "/models", { name: "subscription", party_field: "customer" })).status).toBe(200);
    expectError(await api("POST", "/models", { name: "subscription", party_field: "owner" }), 409, "already exists");
    const list = await ok("GET", "/models");
    expect(list.items.map((m: { name: string }) => m.name)).toEqual(["party", "sale", "subscription"]);
  });

  it("rejects bad model declarations naming the field", async () => {
    expectError(await api("POST", "/models", { name: "Bad Name", party_field: "x" }), 400, "name:");
    expectError(await api("POST", "/models", { name: "ok_name", party_field: "a-b" }), 400, "party_field:");
    expectError(await api("POST", "/models", { name: "ok_name" }), 400, "party_field");
    expectError(await api("POST", "/models", { name: "ok_name", party_field: "x", extra: 1 }), 400, "extra");
    expectError(await api("POST", "/models", "{not json"), 400);
  });

  it("records of a declared model find their party through the declared field", async () => {
    await ok("POST", "/models", { name: "ticket", party_field: "requester" });
    await ok("PUT", "/records/party/pam", { name: "Pam Beesly", email: "pam@example.com" });
    await ok("PUT", "/records/ticket/t1", { requester: "pam", subject: "Printer" });
    const row = await env.DB.prepare("SELECT party_id FROM records WHERE model = 'ticket' AND id = 't1'").first();
    expect(row).toEqual({ party_id: "pam" });
  });
});

describe("records", () => {
  it("creates, replaces, reads and deletes one record", async () => {
    const created = await api("PUT", "/records/party/michael", {
      name: "Michael Scott",
      email: "michael@example.com",
      lang: "en",
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ model: "party", id: "michael", fields: { name: "Michael Scott" } });
    const replaced = await api("PUT", "/records/party/michael", {
      name: "Michael G. Scott",
      email: "michael@example.com",
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.fields).toEqual({ name: "Michael G. Scott", email: "michael@example.com" });
    expect((await ok("GET", "/records/party/michael")).fields.name).toBe("Michael G. Scott");
    expect((await api("DELETE", "/records/party/michael")).status).toBe(204);
    expectError(await api("GET", "/records/party/michael"), 404, "not found");
    expectError(await api("DELETE", "/records/party/michael"), 404);
  });

  it("keeps ids with URL-special characters intact", async () => {
    await ok("PUT", `/records/party/${encodeURIComponent("a/b c?d")}`, { name: "Odd" });
    expect((await ok("GET", `/records/party/${encodeURIComponent("a/b c?d")}`)).id).toBe("a/b c?d");
  });

  it("rejects bad records naming the field, and writes nothing", async () => {
    expectError(await api("PUT", "/records/party/x", { email: "not-an-address" }), 400, "email:");
    expectError(await api("PUT", "/records/party/x", { lang: "english!" }), 400, "lang:");
    expectError(await api("PUT", "/records/party/x", { active: "yes" }), 400, "active:");
    expectError(await api("PUT", "/records/party/x", { id: "y" }), 400, "id:");
    expectError(await api("PUT", "/records/party/x", [1, 2]), 400);
    expectError(await api("PUT", "/records/sale/s", { party: { id: 1 } }), 400, "party:");
    expectError(await api("PUT", "/records/nomodel/x", {}), 400, 'unknown model "nomodel"');
    expectError(await api("GET", "/records/party/x"), 404);
  });

  it("upserts 1,000 records in one call and lists them with a cursor", async () => {
    const records = Array.from({ length: 1000 }, (_, i) => ({
      id: `p${String(i).padStart(4, "0")}`,
      name: `Party ${i}`,
      email: `p${i}@example.com`,
    }));
    const res = await api("POST", "/records/party/batch", { records });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toEqual({ upserted: 1000 });
    const again = await api("POST", "/records/party/batch", { records: records.map((r) => ({ ...r, lang: "fr" })) });
    expect(again.body).toEqual({ upserted: 1000 });
    const count = await env.DB.prepare(
      "SELECT count(*) AS n FROM records WHERE model = 'party' AND id LIKE 'p%' AND json_extract(fields, '$.lang') = 'fr'",
    ).first();
    expect(count).toEqual({ n: 1000 });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await ok(
        "GET",
        `/records/party?limit=300${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      seen.push(...page.items.map((r: { id: string }) => r.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen.filter((id) => /^p\d{4}$/.test(id))).toHaveLength(1000);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("a batch with one bad record writes nothing and names the record", async () => {
    const records = [
      { id: "b1", name: "One" },
      { id: "b2", email: "broken" },
    ];
    expectError(await api("POST", "/records/party/batch", { records }), 400, "records[1].email:");
    expectError(await api("GET", "/records/party/b1"), 404);
    expectError(
      await api("POST", "/records/party/batch", { records: [{ id: "d" }, { id: "d" }] }),
      400,
      'records[1].id: duplicate id "d"',
    );
    expectError(await api("POST", "/records/party/batch", { records: [{ name: "no id" }] }), 400, "records[0].id:");
    expectError(await api("POST", "/records/party/batch", { records: [] }), 400, "records:");
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}` }));
    expectError(await api("POST", "/records/party/batch", { records: tooMany }), 400, "at most 1000");
  });

  it("validates list queries", async () => {
    expectError(await api("GET", "/records/party?limit=0"), 400, "limit");
    expectError(await api("GET", "/records/party?limit=abc"), 400, "limit");
  });
});
