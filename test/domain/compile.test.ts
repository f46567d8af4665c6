import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { compileDomain, likeToGlob } from "../../src/domain/compile";
import { parseDomain } from "../../src/domain/parse";
import { countMatching, recordFilter } from "../../src/engine/records/matching";
import { ok } from "../helpers";

/** Ids of the records of `model` matching `domain`, run on D1 for real. */
async function matching(model: string, domain: unknown[]): Promise<string[]> {
  const f = recordFilter(model, domain, Date.UTC(2026, 10, 27));
  const { results } = await env.DB.prepare(`SELECT r.id FROM ${f.from} WHERE ${f.where} ORDER BY r.id`)
    .bind(...f.params)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      {
        id: "michael",
        name: "Michael Scott",
        email: "michael@dundermifflin.example",
        lang: "en",
        active: true,
        age: 45,
        joined: "2026-11-20T10:00:00Z",
      },
      {
        id: "dwight",
        name: "Dwight Schrute",
        email: "DWIGHT@schrute-farms.example",
        lang: "en",
        active: true,
        age: 40,
        joined: "2026-01-02T00:00:00Z",
      },
      { id: "jan", name: "Jan Levinson", email: null, lang: "fr", active: false, age: 42 },
      {
        id: "toby",
        name: "Toby 100% Flenderson",
        email: "toby@hr.example",
        lang: "fr_FR",
        active: true,
        age: 50,
        tags: { vip: true },
      },
    ],
  });
  await ok("POST", "/records/sale/batch", {
    records: [
      { id: "s1", party: "michael", state: "confirmed", amount: 120 },
      { id: "s2", party: "dwight", state: "draft", amount: 80 },
      { id: "s3", party: "jan", state: "confirmed", amount: 300 },
      { id: "s4", state: "confirmed", amount: 5 },
    ],
  });
});

describe("compiled domains on D1", () => {
  it("= and != with values and null (!= also matches empty fields, as in Tryton)", async () => {
    expect(await matching("party", [["lang", "=", "en"]])).toEqual(["dwight", "michael"]);
    expect(await matching("party", [["email", "=", null]])).toEqual(["jan"]);
    expect(await matching("party", [["email", "!=", null]])).toEqual(["dwight", "michael", "toby"]);
    expect(await matching("party", [["lang", "!=", "en"]])).toEqual(["jan", "toby"]);
    expect(await matching("party", [["active", "=", true]])).toEqual(["dwight", "michael", "toby"]);
    expect(await matching("party", [["id", "=", "jan"]])).toEqual(["jan"]);
  });

  it("comparisons, in and not in (with null)", async () => {
    expect(await matching("party", [["age", ">", 42]])).toEqual(["michael", "toby"]);
    expect(await matching("party", [["age", ">=", 42]])).toEqual(["jan", "michael", "toby"]);
    expect(await matching("party", [["age", "<", 42]])).toEqual(["dwight"]);
    expect(await matching("party", [["age", "<=", 42]])).toEqual(["dwight", "jan"]);
    expect(await matching("party", [["lang", "in", ["fr", "fr_FR"]]])).toEqual(["jan", "toby"]);
    expect(await matching("party", [["lang", "not in", ["en"]]])).toEqual(["jan", "toby"]);
    expect(await matching("party", [["email", "in", [null, "toby@hr.example"]]])).toEqual(["jan", "toby"]);
    expect(await matching("party", [["email", "not in", [null, "toby@hr.example"]]])).toEqual(["dwight", "michael"]);
    expect(await matching("party", [["id", "in", []]])).toEqual([]);
  });

  it("like is case-sensitive, ilike is not, with % _ and escapes", async () => {
    expect(await matching("party", [["email", "like", "%@dundermifflin.example"]])).toEqual(["michael"]);
    expect(await matching("party", [["email", "like", "%@SCHRUTE-farms.example"]])).toEqual([]);
    expect(await matching("party", [["email", "ilike", "%@SCHRUTE-farms.example"]])).toEqual(["dwight"]);
    expect(await matching("party", [["name", "like", "_an %"]])).toEqual(["jan"]);
    expect(await matching("party", [["name", "like", "%100\\%%"]])).toEqual(["toby"]);
    expect(await matching("party", [["name", "ilike", "%100\\%%"]])).toEqual(["toby"]);
    expect(await matching("party", [["email", "not like", "%.example"]])).toEqual(["jan"]);
    expect(await matching("party", [["email", "not ilike", "%@HR.example"]])).toEqual(["dwight", "jan", "michael"]);
    expect(likeToGlob("a*b?[c]%_\\%")).toBe("a[*]b[?][[]c]*?%");
  });

  it("AND / OR nesting and nested JSON paths", async () => {
    expect(
      await matching("party", ["OR", ["lang", "=", "fr"], ["AND", ["age", ">", 44], ["active", "=", true]]]),
    ).toEqual(["jan", "michael", "toby"]);
    expect(await matching("party", [[["lang", "=", "en"]], ["age", "<", 41]])).toEqual(["dwight"]);
    expect(await matching("party", [["OR"]])).toEqual([]);
    expect(await matching("party", [["tags.vip", "=", true]])).toEqual(["toby"]);
  });

  it("{now: duration} values resolve when the domain runs", async () => {
    // The reference time is 2026-11-27: joined within the last 30 days.
    expect(await matching("party", [["joined", ">=", { now: "-P30D" }]])).toEqual(["michael"]);
    expect(await matching("party", [["joined", "<", { now: "-P30D" }]])).toEqual(["dwight"]);
  });

  it("party. paths on a sale read the party record", async () => {
    expect(await matching("sale", [["party.lang", "=", "en"]])).toEqual(["s1", "s2"]);
    expect(
      await matching("sale", [
        ["party.email", "!=", null],
        ["state", "=", "confirmed"],
      ]),
    ).toEqual(["s1"]);
    expect(await matching("sale", [["party.id", "=", "jan"]])).toEqual(["s3"]);
    expect(await matching("sale", [["party", "=", null]])).toEqual(["s4"]);
    expect(await matching("party", [["party.lang", "=", "fr"]])).toEqual(["jan"]);
  });

  it("values that try SQL injection are only ever bound parameters", async () => {
    const hostile = ["' OR 1=1 --", '"; DROP TABLE records; --', "x') UNION SELECT id FROM records --"];
    for (const value of hostile) {
      expect(await matching("party", [["name", "=", value]])).toEqual([]);
      expect(await matching("party", [["name", "like", value]])).toEqual([]);
      expect(await matching("party", [["name", "in", [value]]])).toEqual([]);
      const compiled = compileDomain(parseDomain([["name", "=", value]]), { record: "r", party: null }, 0);
      expect(compiled.sql).not.toContain(value);
    }
    expect(await countMatching(env.DB, "party", [], 0)).toBe(4);
  });

  it("a huge in-list is one bound parameter", async () => {
    const ids = Array.from({ length: 9_999 }, (_, i) => `p${i}`).concat("toby");
    const f = recordFilter("party", [["id", "in", ids]], 0);
    expect(f.params.length).toBeLessThan(5);
    expect(await matching("party", [["id", "in", ids]])).toEqual(["toby"]);
  });

  it("the largest domain allowed stays within D1's 100 bound parameters", async () => {
    const clauses = Array.from({ length: 40 }, (_, i) => [`field_${i}`, "not like", `value ${i}`]);
    const f = recordFilter("sale", clauses, 0);
    expect(f.params.length).toBeLessThanOrEqual(81);
    expect(await matching("sale", clauses)).toEqual(["s1", "s2", "s3", "s4"]);
  });
});
