import { SELF } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OPERATORS } from "../../src/domain/types";
import { login } from "../console/helpers";
import { api, BASE, ok } from "../helpers";

// Property-based checks of the validators at the API's edge: whatever a client sends gets a 2xx or a 4xx, never a
// 5xx, and nothing accepted can later make a 5xx in the lists, the timeline, the reports or the scheduler.
const RUNS = 40;

const bigNumber = fc.oneof(fc.nat(100), fc.nat(), fc.constantFrom(9_007_199_254_740_991, 1e21, 99_999_999_999_999));
const duration = fc.oneof(
  fc
    .tuple(
      fc.constantFrom("", "-", "+"),
      fc.option(bigNumber),
      fc.option(bigNumber),
      fc.option(bigNumber),
      fc.option(bigNumber),
      fc.option(bigNumber),
      fc.option(fc.oneof(bigNumber, fc.double({ min: 0, max: 1e6, noNaN: true }))),
    )
    .map(([sign, y, m, d, h, min, s]) => {
      const date = `${y === null ? "" : `${y}Y`}${m === null ? "" : `${m}M`}${d === null ? "" : `${d}D`}`;
      const time = `${h === null ? "" : `${h}H`}${min === null ? "" : `${min}M`}${s === null ? "" : `${s}S`}`;
      return `${sign}P${date}${time ? `T${time}` : ""}`;
    }),
  fc.constantFrom("PT0S", "P5Y", "P1D", "-P30D", "P200Y", "PT", "P", "P1W"),
  fc.string({ maxLength: 12 }),
);

const field = fc.oneof(
  fc.constantFrom("id", "name", "email", "state", "party.email", "party.name", "amount", "a.b", "party.id"),
  fc.string({ maxLength: 10 }),
);
const scalar = fc.oneof(fc.string({ maxLength: 20 }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const value = fc.oneof(
  scalar,
  duration.map((now) => ({ now })),
  fc.array(scalar, { maxLength: 5 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const operator = fc.oneof(fc.constantFrom(...OPERATORS), fc.string({ maxLength: 4 }));
const validField = fc.constantFrom("id", "name", "email", "state", "party.email", "party.name", "amount", "a.b");
const nowValue = duration.map((now) => ({ now }));
/** Clauses of the right shape, so that many domains are accepted and go on to enrollment and execution. */
const validClause = fc.oneof(
  fc.tuple(validField, fc.constantFrom("=", "!="), fc.oneof(scalar, nowValue)),
  fc.tuple(
    validField,
    fc.constantFrom("<", "<=", ">", ">="),
    fc.oneof(fc.string({ maxLength: 10 }), fc.double(), nowValue),
  ),
  fc.tuple(validField, fc.constantFrom("in", "not in"), fc.array(scalar, { maxLength: 6 })),
  fc.tuple(validField, fc.constantFrom("like", "ilike", "not like", "not ilike"), fc.string({ maxLength: 30 })),
);
const wellFormed = fc.oneof(
  fc.array(validClause, { maxLength: 5 }),
  fc.tuple(fc.constant("OR"), validClause, validClause),
  fc.tuple(fc.constant("AND"), fc.array(validClause, { maxLength: 3 }), validClause),
);
const { anything } = fc.letrec((tie) => ({
  clause: fc.oneof(fc.tuple(field, operator, value), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 })),
  anything: fc.oneof(
    { depthSize: "small" },
    fc.array(fc.oneof(tie("clause"), tie("anything")), { maxLength: 4 }),
    fc.tuple(fc.constantFrom("OR", "AND"), tie("clause"), tie("clause")),
    fc.jsonValue({ maxDepth: 2 }),
  ),
}));
const domain = fc.oneof(wellFormed, wellFormed, anything);

const recordFields = fc.dictionary(
  fc.oneof(
    fc.constantFrom("name", "email", "lang", "active", "party", "state", "amount", "__proto__", "id"),
    fc.string({ maxLength: 8 }),
  ),
  fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.emailAddress(), fc.constantFrom("en", "fr_FR", "pam")),
  { maxKeys: 6 },
);

/** The raw JSON a client would send, `__proto__` keys kept as own properties. */
const asJson = (fields: Record<string, unknown>) => JSON.stringify(fields);

const accepted: { scenarios: string[]; activities: string[] } = { scenarios: [], activities: [] };

function expectNo5xx(res: { status: number; body: unknown }, what: string) {
  expect(res.status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
}

describe("property: any input gets a 2xx or a 4xx, never a 5xx", () => {
  it("scenario domains, activity delays and conditions, and record writes", async () => {
    await ok("PUT", "/records/party/pam", { name: "Pam", email: "pam@example.com" });
    await fc.assert(
      fc.asyncProperty(
        domain,
        fc.option(duration),
        fc.option(domain),
        fc.constantFrom("party", "sale"),
        fc.string({ minLength: 1, maxLength: 20 }),
        recordFields,
        async (d, delay, condition, model, recordId, fields) => {
          const s = await api("POST", "/scenarios", { name: "Prop", model, domain: d });
          expectNo5xx(s, "POST /scenarios");
          if (s.status === 201) accepted.scenarios.push(s.body.id);
          const scenarioId = s.status === 201 ? s.body.id : accepted.scenarios[0];
          if (scenarioId) {
            const a = await api("POST", `/scenarios/${scenarioId}/activities`, { name: "Step", delay, condition });
            expectNo5xx(a, "POST activity");
            if (a.status === 201) accepted.activities.push(a.body.id);
            const patch = await api("PATCH", `/scenarios/${scenarioId}`, { domain: d });
            expectNo5xx(patch, "PATCH /scenarios");
          }
          const put = await api("PUT", `/records/${model}/${encodeURIComponent(recordId)}`, asJson(fields));
          expectNo5xx(put, "PUT record");
          const batch = await api(
            "POST",
            `/records/${model}/batch`,
            `{"records": [${asJson({ ...fields, id: recordId })}]}`,
          );
          expectNo5xx(batch, "POST batch");
        },
      ),
      { numRuns: RUNS },
    );
    expect(accepted.scenarios.length).toBeGreaterThan(0);
  });

  it("nothing accepted makes a 5xx later: run, enroll, execute, list, report, timeline", {
    timeout: 120_000,
  }, async () => {
    for (const id of accepted.scenarios) expectNo5xx(await api("POST", `/scenarios/${id}/run`), "run");
    expectNo5xx(await api("POST", "/jobs/enroll"), "enroll");
    expectNo5xx(await api("POST", "/jobs/process"), "process");
    expectNo5xx(await api("GET", "/scenarios?limit=500"), "list scenarios");
    expectNo5xx(await api("GET", "/records/party?limit=500"), "list parties");
    expectNo5xx(await api("GET", "/records/sale?limit=500"), "list sales");
    const { cookie } = await login();
    for (const id of accepted.scenarios.slice(0, 8)) {
      for (const path of [
        `/scenarios/${id}`,
        `/scenarios/${id}/activities`,
        `/scenarios/${id}/records?limit=500`,
        `/scenarios/${id}/record-activities?limit=500`,
        `/scenarios/${id}/report`,
      ]) {
        expectNo5xx(await api("GET", path), path);
      }
      const page = await SELF.fetch(`${BASE}/console/scenarios/${id}`, { headers: { cookie } });
      expect(page.status, `console scenario ${id}`).toBeLessThan(500);
      const records = await api("GET", `/scenarios/${id}/records?limit=3`);
      for (const sr of records.body.items ?? []) {
        const timeline = await SELF.fetch(`${BASE}/console/scenario-records/${sr.id}`, { headers: { cookie } });
        expect(timeline.status, `timeline ${sr.id}`).toBeLessThan(500);
      }
    }
    for (const id of accepted.activities.slice(0, 15)) {
      expectNo5xx(await api("GET", `/activities/${id}`), "activity");
      expectNo5xx(await api("GET", `/activities/${id}/report`), "activity report");
    }
    expectNo5xx(await api("POST", "/jobs/process"), "process again");
  });
});
