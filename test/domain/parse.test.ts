import { describe, expect, it } from "vitest";
import { addDuration, parseDuration } from "../../src/domain/duration";
import { parseDomain } from "../../src/domain/parse";
import { DOMAIN_LIMITS, DomainError } from "../../src/domain/types";

function problem(domain: unknown, root = "domain"): string {
  try {
    parseDomain(domain, root);
  } catch (err) {
    if (err instanceof DomainError) return err.message;
    throw err;
  }
  throw new Error("expected a DomainError");
}

describe("parseDomain", () => {
  it("accepts every operator and nesting", () => {
    const domain = [
      ["name", "=", "Michael"],
      ["name", "!=", null],
      ["age", "<", 40],
      ["age", "<=", 40],
      ["age", ">", 20],
      ["age", ">=", 20],
      ["lang", "in", ["en", "fr"]],
      ["lang", "not in", ["de"]],
      ["email", "like", "%@example.com"],
      ["email", "ilike", "%@EXAMPLE.com"],
      ["email", "not like", "%@spam.example"],
      ["email", "not ilike", "%@SPAM.example"],
      ["OR", ["active", "=", true], ["AND", ["created", ">", { now: "-P30D" }], []]],
    ];
    const node = parseDomain(domain);
    expect(node.kind).toBe("and");
    if (node.kind === "clause") throw new Error("unreachable");
    expect(node.children).toHaveLength(13);
    expect(node.children[12]).toMatchObject({ kind: "or" });
  });

  it("accepts the empty domain and a dotted party path", () => {
    expect(parseDomain([])).toEqual({ kind: "and", children: [] });
    expect(parseDomain([["party.email", "!=", null]])).toMatchObject({ kind: "and" });
  });

  it("names the JSON path of the offending part", () => {
    expect(
      problem([
        ["a", "=", 1],
        ["b", "==", 2],
      ]),
    ).toBe('domain[1][1]: unknown operator "=="');
    expect(problem([["a", "in", "x"]])).toBe('domain[0][2]: "in" takes an array, got string "x"');
    expect(problem([["a", "=", 1, 2]])).toBe("domain[0]: a clause is [field, operator, value], got 4 elements");
    expect(problem([["a", "<", null]])).toBe("domain[0][2]: null is only allowed with =, !=, in and not in");
    expect(problem([["a", "like", 3]])).toBe('domain[0][2]: "like" takes a string pattern, got number 3');
    expect(problem([["a", "=", { now: "yesterday" }]])).toBe(
      'domain[0][2].now: "yesterday" is not an ISO 8601 duration (e.g. PT30M, P2D)',
    );
    expect(problem([["a", "=", { later: "P1D" }]])).toContain("domain[0][2]: an object value must be");
    expect(problem([["OR", ["a", "=", [1]]]])).toContain("domain[0][1][2]: expected a string, number, boolean or null");
    expect(problem({ a: 1 })).toBe("domain: a domain must be a JSON array");
    expect(problem(["a"])).toContain("domain[0]: expected a clause");
    expect(problem([["a", "in", [1, {}]]], "condition")).toContain("condition[0][2][1]:");
  });

  it("refuses field names that try SQL injection", () => {
    for (const field of ["a'; DROP TABLE records; --", 'a") OR 1=1 --', "a b", "$.x", "a..b", "1a", ""]) {
      expect(problem([[field, "=", 1]])).toMatch(
        /^domain\[0\]\[0\]: invalid field name|domain\[0\]: expected a clause/,
      );
    }
  });

  it("bounds hostile input: depth, clause count, in-list size, string size", () => {
    let deep: unknown[] = [["a", "=", 1]];
    for (let i = 0; i < DOMAIN_LIMITS.maxDepth + 5; i++) deep = [deep];
    expect(problem(deep)).toContain(`nested deeper than ${DOMAIN_LIMITS.maxDepth} levels`);
    const many = Array.from({ length: DOMAIN_LIMITS.maxClauses + 1 }, (_, i) => [`f${i}`, "=", i]);
    expect(problem(many)).toContain(`more than ${DOMAIN_LIMITS.maxClauses} clauses`);
    const huge = Array.from({ length: DOMAIN_LIMITS.maxInList + 1 }, (_, i) => i);
    expect(problem([["a", "in", huge]])).toContain(`at most ${DOMAIN_LIMITS.maxInList} values`);
    expect(problem([["a", "=", "x".repeat(DOMAIN_LIMITS.maxStringLength + 1)]])).toContain("string longer than");
    expect(problem([["a", "=", Number.POSITIVE_INFINITY]])).toBeDefined();
    // D1 refuses LIKE/GLOB patterns over 50 bytes: refused when saved, not when the domain runs.
    expect(problem([["a", "like", `%${"x".repeat(50)}`]])).toBe(
      "domain[0][2]: the pattern is longer than D1 allows (50 bytes)",
    );
    expect(problem([["a", "like", "*".repeat(20)]])).toContain("longer than D1 allows");
    expect(() => parseDomain([["a", "ilike", "%é".repeat(16)]])).not.toThrow();
  });
});

describe("ISO 8601 durations", () => {
  it("parses the forms activities and domains use", () => {
    expect(parseDuration("PT0S")).toMatchObject({ sign: 1, seconds: 0 });
    expect(parseDuration("P2D")).toMatchObject({ days: 2 });
    expect(parseDuration("-P30D")).toMatchObject({ sign: -1, days: 30 });
    expect(parseDuration("P1Y2M3W4DT5H6M7.5S")).toMatchObject({
      years: 1,
      months: 2,
      weeks: 3,
      days: 4,
      hours: 5,
      minutes: 6,
      seconds: 7.5,
    });
    for (const bad of ["P", "PT", "2D", "P1DT", "P-1D", "PT1.5M", "P1H", "", "p1d"])
      expect(parseDuration(bad), bad).toBeNull();
  });

  it("adds calendar months and exact days", () => {
    const jan31 = Date.UTC(2026, 0, 31, 12);
    expect(new Date(addDuration(jan31, parseDuration("P1M")!)).toISOString()).toBe("2026-02-28T12:00:00.000Z");
    expect(addDuration(jan31, parseDuration("PT30M")!) - jan31).toBe(30 * 60_000);
    expect(addDuration(jan31, parseDuration("-P1D")!) - jan31).toBe(-86_400_000);
  });
});
