import { compileDomain } from "../../domain/compile";
import { parseDomain } from "../../domain/parse";
import type { Domain } from "../../domain/types";

export interface RecordFilter {
  /** `LEFT JOIN records p …` when the domain reads the party, else empty. */
  partyJoin: string;
  /** `FROM`-clause text: `records r` plus the party join. */
  from: string;
  /** `r.model = ? AND (<domain>)`. */
  where: string;
  params: (string | number | null)[];
}

const PARTY_JOIN = "LEFT JOIN records p ON p.model = 'party' AND p.id = r.party_id";

/**
 * SQL that selects the records of `model` matching `domain`, aliased `r` (and `p` for the party). Callers add their
 * own columns and conditions; every value of the domain is a bound parameter.
 */
export function recordFilter(model: string, domain: Domain, now: number, root = "domain"): RecordFilter {
  const compiled = compileDomain(
    parseDomain(domain, root),
    { record: "r", party: model === "party" ? null : "p" },
    now,
  );
  const partyJoin = compiled.usesParty ? PARTY_JOIN : "";
  return {
    partyJoin,
    from: `records r ${partyJoin}`,
    where: `r.model = ? AND ${compiled.sql}`,
    params: [model, ...compiled.params],
  };
}

/** Counts the records of `model` that match `domain` now. */
export async function countMatching(d1: D1Database, model: string, domain: Domain, now: number): Promise<number> {
  const f = recordFilter(model, domain, now);
  const row = await d1
    .prepare(`SELECT count(*) AS n FROM ${f.from} WHERE ${f.where}`)
    .bind(...f.params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Of the given scenario records, those whose record matches `condition` now (set-based, one query). */
export async function scenarioRecordsMatching(
  d1: D1Database,
  model: string,
  condition: Domain,
  scenarioRecordIds: number[],
  now: number,
): Promise<Set<number>> {
  const f = recordFilter(model, condition, now, "condition");
  const { results } = await d1
    .prepare(
      `SELECT sr.id AS id FROM scenario_records sr
       JOIN records r ON r.model = sr.model AND r.id = sr.record_id ${f.partyJoin}
       WHERE sr.id IN (SELECT value FROM json_each(?)) AND ${f.where}`,
    )
    .bind(JSON.stringify(scenarioRecordIds), ...f.params)
    .all<{ id: number }>();
  return new Set(results.map((r) => r.id));
}
