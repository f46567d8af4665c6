import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { enroll, enrollScenario, runningScenarios } from "../../../src/engine/enrollment/enroll";
import { listEmails } from "../../../src/engine/runs/emails";
import { listRecordActivities } from "../../../src/engine/runs/runs";
import {
  recordActivitiesOfScenario,
  SCENARIO_RECORD_RANGE,
  statementOf,
} from "../../../src/engine/scenarios/scenario-range";
import { parkChunkSql, reparkScenario } from "../../../src/engine/scenarios/scenarios";
import type { Bindings } from "../../../src/env";
import { buildServices } from "../../../src/services";
import { api, ok } from "../../helpers";
import { buildScenario, testEngine } from "../fixtures";

const R = SCENARIO_RECORD_RANGE;

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: Array.from({ length: 10 }, (_, i) => ({ id: `rng${i}`, email: `rng${i}@example.com`, cohort: "rng" })),
  });
});

async function runningScenario(name: string, activities = [{ name: "Later", delay: "P1D" }]) {
  const built = await buildScenario({ name, model: "party", domain: [["cohort", "=", "rng"]] }, activities);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  return { ...built, id: Number(built.scenarioId) };
}

const all = async <T>(query: string, ...params: unknown[]) =>
  (
    await env.DB.prepare(query)
      .bind(...params)
      .all<T>()
  ).results;

/**
 * Scenario records as a database upgraded from before ranges holds them: small autoincrement ids (here explicit, as
 * other tests' rows share the table), each with a waiting record activity for each of the scenario's activities.
 */
async function legacyRecords(scenarioId: number, ids: number[]) {
  const activities = await all<{ id: number }>(
    "SELECT id FROM activities WHERE scenario_id = ? ORDER BY id",
    scenarioId,
  );
  for (const id of ids) {
    await env.DB.prepare(
      `INSERT INTO scenario_records (id, scenario_id, model, record_id, token, created_at)
       VALUES (?, ?, 'party', ?, '', 0)`,
    )
      .bind(id, scenarioId, `legacy${id}`)
      .run();
    // Activities in reverse, so the record activities' ids do not follow the list's order.
    for (const a of [...activities].reverse()) {
      await env.DB.prepare(
        `INSERT INTO record_activities (scenario_record_id, activity_id, scenario_id, shard, state, at, created_at,
           updated_at) VALUES (?, ?, ?, ?, 'waiting', 0, 0, 0)`,
      )
        .bind(id, a.id, scenarioId, id % 8)
        .run();
    }
  }
}

/** The scenario's record activities in the order the lists state: by scenario record, then activity. */
const inOrder = (scenarioId: number) =>
  all<{ id: number; sr: number; activity: number }>(
    `SELECT id, scenario_record_id AS sr, activity_id AS activity FROM record_activities NOT INDEXED
     WHERE scenario_id = ? ORDER BY scenario_record_id, activity_id`,
    scenarioId,
  );

describe("scenario records with ids in their scenario's range", () => {
  it("are numbered from the scenario's base, chunk after chunk, one scenario apart from the other", async () => {
    const a = await runningScenario("Range A");
    const b = await runningScenario("Range B");
    const { engine } = testEngine();
    // Scenario A enrolls in chunks of 3 records (about 4 chunks for its 10), B in one; then A again (nothing new).
    const [sa, sb] = await runningScenarios(engine).then((s) => [a, b].map((x) => s.find((y) => y.id === x.id)));
    if (!sa || !sb) throw new Error("not running");
    let from: number | null = 0;
    while (from !== null) from = (await enrollScenario(engine, sa, { chunk: 3, from, deadline: 0 })).next;
    expect((await enrollScenario(engine, sb, {})).enrolled).toBe(10);
    expect((await enrollScenario(engine, sa, { chunk: 3 })).enrolled).toBe(0);
    for (const s of [a, b]) {
      const rows = await all<{ id: number; shard: number | null; n: number }>(
        `SELECT sr.id, ra.shard, (SELECT count(*) FROM record_activities x WHERE x.scenario_record_id = sr.id) AS n
         FROM scenario_records sr LEFT JOIN record_activities ra ON ra.scenario_record_id = sr.id
         WHERE sr.scenario_id = ? ORDER BY sr.id`,
        s.id,
      );
      // Every record enrolled once, ids contiguous from the range's base, each with its root record activity.
      expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 10 }, (_, i) => s.id * R + (s.id % 8) + i + 1));
      expect(rows.every((r) => r.n === 1)).toBe(true);
      expect(rows.map((r) => r.shard)).toEqual(rows.map((r) => r.id % 8));
      const scenario = await env.DB.prepare("SELECT count_records AS n FROM scenarios WHERE id = ?")
        .bind(s.id)
        .first<{ n: number }>();
      expect(scenario?.n).toBe(10);
    }
  });

  it("a scenario whose range is full enrolls no more, rather than take the next scenario's ids", async () => {
    const full = await runningScenario("Full");
    await env.DB.prepare(
      "INSERT INTO scenario_records (id, scenario_id, model, record_id, token, created_at) VALUES (?, ?, 'party', 'x', '', 0)",
    )
      .bind(full.id * R + R - 5, full.id)
      .run();
    const [s] = await runningScenarios(testEngine().engine, full.id);
    if (!s) throw new Error("not running");
    await expect(enrollScenario(testEngine().engine, s, { chunk: 10 })).rejects.toThrow(/no scenario record ids left/);
    const next = await env.DB.prepare("SELECT count(*) AS n FROM scenario_records WHERE id > ?")
      .bind(full.id * R + R - 1)
      .first<{ n: number }>();
    expect(next?.n).toBe(0);
  });

  it("a scenario whose id would take its records' ids past 2^52 is not enrolled", async () => {
    const { engine } = testEngine();
    await expect(enrollScenario(engine, { id: 2 ** 20, model: "party", domain: "[]" })).rejects.toThrow(/2\^52/);
  });
});

describe("a scenario's record activities, those of older scenario records and those of its range", () => {
  let s: { id: number; scenarioId: string; activity: Record<string, string> };
  beforeAll(async () => {
    s = await runningScenario("Mixed", [
      { name: "One", delay: "P1D" },
      { name: "Two", delay: "P2D" },
    ]);
    // Range rows first: their record activities get lower ids than the older scenario records' ones.
    await enroll(testEngine().engine, { scenarioId: s.id });
    await legacyRecords(s.id, [3, 5, 9]);
  });

  it("are listed by scenario record then activity, page after page, nothing missed or repeated", async () => {
    const expected = await inOrder(s.id);
    expect(expected).toHaveLength(26);
    expect(expected.slice(0, 6).every((r) => r.sr < R)).toBe(true);
    for (const [query, keep] of [
      ["", () => true],
      [`&activity_id=${s.activity.Two}`, (r: { activity: number }) => r.activity === Number(s.activity.Two)],
      ["&state=waiting", () => true],
    ] as const) {
      const seen: number[] = [];
      let cursor: string | null = null;
      for (let pages = 0; pages < 30; pages++) {
        const res = await api(
          "GET",
          `/scenarios/${s.scenarioId}/record-activities?limit=4${query}${cursor ? `&cursor=${cursor}` : ""}`,
        );
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        seen.push(...res.body.items.map((r: { id: string }) => Number(r.id)));
        cursor = res.body.next_cursor;
        if (cursor === null) break;
      }
      expect(seen).toEqual(expected.filter(keep).map((r) => r.id));
    }
  });

  it("a cursor of another scenario's record activity is refused", async () => {
    const other = await inOrder(s.id - 1);
    const res = await api("GET", `/scenarios/${s.scenarioId}/record-activities?cursor=${other[0]?.id}`);
    expect(res.status).toBe(400);
  });

  it("their e-mails are listed newest scenario record first, then activity, each newest first", async () => {
    const ras = await inOrder(s.id);
    // An e-mail for every other record activity (first attempt: its id), and a retry (a sequence id) for some.
    const emails = new Map<number, number[]>();
    let retry = 2 ** 52 + 1000;
    for (const [i, ra] of ras.entries()) {
      if (i % 2 === 1) continue;
      const ids = i % 3 === 0 ? [ra.id, retry++] : [ra.id];
      for (const id of ids) {
        await env.DB.prepare(
          `INSERT INTO emails (id, record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from",
             subject, message_id, headers, transport, status, body_key, attempt, created_at)
           VALUES (?, ?, ?, ?, ?, 'x@example.com', 'y@example.com', 'Hi', '', '{}', 'test', 'sent', '', 1, 0)`,
        )
          .bind(id, ra.id, s.id, ra.activity, ra.sr)
          .run();
      }
      emails.set(ra.id, ids.reverse());
    }
    const expected = [...ras].reverse().flatMap((ra) => emails.get(ra.id) ?? []);
    const engine = testEngine().engine;
    for (const o of [
      { limit: 3, recordActivities: 1000 },
      { limit: 100, recordActivities: 2 },
      { limit: 2, recordActivities: 3 },
    ]) {
      for (const filter of [{ scenarioId: s.id }, { activityId: Number(s.activity.One) }]) {
        const seen: number[] = [];
        let cursor: string | null = null;
        for (let pages = 0; pages < 40; pages++) {
          const page = await listEmails(engine, { ...filter, ...o, cursor });
          seen.push(...page.items.map((m) => m.id));
          cursor = page.nextCursor;
          if (cursor === null) break;
        }
        const want =
          "activityId" in filter
            ? expected.filter((id) => ras.find((r) => emails.get(r.id)?.includes(id))?.activity === filter.activityId)
            : expected;
        expect(seen).toEqual(want);
      }
    }
  });

  it("are re-parked in chunks ending with a scenario record, older ones and the range's", async () => {
    await env.DB.prepare("UPDATE scenarios SET state = 'stopped' WHERE id = ?").bind(s.id).run();
    const ras = await inOrder(s.id);
    // A chunk of 3 takes the 3 first record activities and the rest of the second's scenario record: 4 rows.
    const [progress, update] = parkChunkSql(s.id, 0, 3).map((q) => statementOf(env.DB, q));
    if (!update || !progress) throw new Error("no chunk");
    const [moved] = await env.DB.batch<{ next: number }>([progress, update]);
    expect(moved?.results[0]?.next).toBe(ras[3]?.sr);
    const parked = await all<{ id: number; parked: number }>(
      "SELECT id, parked FROM record_activities WHERE scenario_id = ? ORDER BY scenario_record_id, activity_id",
      s.id,
    );
    expect(parked.map((r) => r.parked)).toEqual(ras.map((_, i) => (i < 4 ? 1 : 0)));
    await reparkScenario(testEngine().engine, s.id, { chunk: 3 });
    const after = await all<{ parked: number }>("SELECT parked FROM record_activities WHERE scenario_id = ?", s.id);
    expect(after.every((r) => r.parked === 1)).toBe(true);
    expect(after).toHaveLength(ras.length);
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(s.id).run();
    await reparkScenario(testEngine().engine, s.id, { chunk: 5 });
    const running = await all<{ parked: number }>("SELECT parked FROM record_activities WHERE scenario_id = ?", s.id);
    expect(running.every((r) => r.parked === 0)).toBe(true);
  });
});

describe("a page of a scenario's record activities", () => {
  it("reads a bounded number of rows, wherever it starts, however many the scenario has", async () => {
    const { id, scenarioId } = await runningScenario("Large");
    const activity = (await all<{ id: number }>("SELECT id FROM activities WHERE scenario_id = ?", id))[0]?.id;
    // 2,000 scenario records of the range (their record activities first) and 2,000 older ones, one row each.
    for (const [base, prefix] of [
      [id * R, "big"],
      [100_000, "old"],
    ] as const) {
      await env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
         INSERT INTO scenario_records (id, scenario_id, model, record_id, token, created_at)
         SELECT ?1 + i, ?2, 'party', ?3 || i, '', 0 FROM n`,
      )
        .bind(base, id, prefix)
        .run();
      await env.DB.prepare(
        `INSERT INTO record_activities (scenario_record_id, activity_id, scenario_id, shard, state, at, created_at,
           updated_at)
         SELECT id, ?2, ?1, id % 8, 'waiting', 0, 0, 0 FROM scenario_records WHERE id BETWEEN ?3 + 1 AND ?3 + 2000`,
      )
        .bind(id, activity, base)
        .run();
    }
    const ordered = await inOrder(id);
    expect(ordered).toHaveLength(4000);
    // Every statement the lists run, recorded and then run again for its `rows_read`.
    const seen: { sql: string; params: unknown[] }[] = [];
    const recording = {
      prepare: (query: string) =>
        new Proxy(env.DB.prepare(query), {
          get(target, prop) {
            if (prop === "bind")
              return (...params: unknown[]) => {
                seen.push({ sql: query, params });
                return target.bind(...params);
              };
            const value = Reflect.get(target, prop);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }),
      batch: (s: D1PreparedStatement[]) => env.DB.batch(s),
    } as unknown as D1Database;
    const engine = buildServices({ ...(env as unknown as Bindings), DB: recording }, { wake: async () => {} });
    const rowsRead = async () => {
      let n = 0;
      for (const q of seen.splice(0)) {
        n +=
          (
            await env.DB.prepare(q.sql)
              .bind(...q.params)
              .all()
          ).meta.rows_read ?? 0;
      }
      return n;
    };
    // Pages from the start, in the middle of the older ones, at their end, in the middle of the range, at its end.
    for (const at of [null, 1000, 1999, 3000, 3990]) {
      const cursor = at === null ? null : (ordered[at]?.id ?? null);
      const page = await listRecordActivities(engine, id, { limit: 10, cursor });
      const from = at === null ? 0 : at + 1;
      expect(page.items.map((r) => r.id)).toEqual(ordered.slice(from, from + 10).map((r) => r.id));
      // About 3 × 11 record activities (each arm, then the page by primary key), not the scenario's 4,000.
      expect(await rowsRead()).toBeLessThan(100);
      const emails = await listEmails(engine, {
        scenarioId: id,
        limit: 10,
        cursor: cursor === null ? null : `${cursor}-0`,
        recordActivities: 20,
      });
      // The scan includes the cursor's record activity (its e-mails below 0: none) and the 19 before it.
      expect(emails.nextCursor).toBe(`${ordered[at === null ? 3980 : at - 19]?.id}-0`);
      // The 2 × 20 record activities of the scan, twice (the page, then where the next one starts), and the sorts.
      expect(await rowsRead()).toBeLessThan(400);
    }
    // One scenario record's, an older one and one of the range: through its own index entries.
    for (const at of [1000, 3000]) {
      const sr = ordered[at]?.sr;
      const page = await listRecordActivities(engine, id, { limit: 10, cursor: null, scenarioRecordId: sr });
      expect(page.items.map((r) => r.id)).toEqual([ordered[at]?.id]);
      expect(await rowsRead()).toBeLessThan(20);
    }
    // The statement alone, both ways, from a position in each arm.
    for (const desc of [false, true]) {
      for (const at of [500, 3500]) {
        const p = ordered[at];
        const q = recordActivitiesOfScenario({
          columns: sql`id, scenario_record_id, activity_id`,
          scenarioId: id,
          desc,
          from: p && { sr: p.sr, activity: p.activity },
          limit: 10,
        });
        const result = await statementOf(env.DB, q).all<{ id: number }>();
        const want = desc ? ordered.slice(at - 9, at + 1).reverse() : ordered.slice(at + 1, at + 11);
        expect(result.results.map((r) => r.id)).toEqual(want.map((r) => r.id));
        expect(result.meta.rows_read).toBeLessThan(60);
      }
    }
    expect(scenarioId).toBe(String(id));
  });
});

// Last in this file: scenario ids go on from 2^20 here, and no scenario can be created after it.
describe("scenario ids", () => {
  it("creating a scenario whose id would be 2^20 or more is refused, and leaves no scenario", async () => {
    // As if 2^20 - 1 scenarios had been created (AUTOINCREMENT goes on from the highest id ever).
    await env.DB.prepare(
      "INSERT INTO scenarios (id, name, model, domain, created_at, updated_at) VALUES (?, 'Last', 'party', '[]', 0, 0)",
    )
      .bind(2 ** 20 - 1)
      .run();
    const res = await api("POST", "/scenarios", { name: "One too many", model: "party", domain: [] });
    expect(res.status, JSON.stringify(res.body)).toBe(409);
    expect(res.body.error.message).toContain("2^52");
    const left = await env.DB.prepare("SELECT count(*) AS n FROM scenarios WHERE id >= ?")
      .bind(2 ** 20)
      .first();
    expect(left?.n).toBe(0);
  });
});
