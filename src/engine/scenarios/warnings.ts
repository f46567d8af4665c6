import { parseDomain } from "../../domain/parse";
import type { Domain, DomainNode } from "../../domain/types";
import type { Engine } from "../ports";
import { countMatching } from "../records/matching";

/** Records read, at most, to find one that has a field the domain names (a typo has none: the sample is read whole). */
export const FIELD_SAMPLE = 10_000;

/**
 * What a scenario's answer should say loudly before it runs, in the marketer's words: a domain that takes every
 * record of the model (`[]`), and a field of its domain (or goal) that no record of the model has (a typo matches
 * nothing, or, after `!=`, everything). Warnings never refuse the change.
 */
export async function scenarioWarnings(
  e: Engine,
  scenario: { model: string; domain: Domain; goal: Domain | null },
): Promise<string[]> {
  const warnings: string[] = [];
  const domain = parseDomain(scenario.domain, "domain");
  if (domain.kind === "and" && domain.children.length === 0) {
    const n = await countMatching(e.d1, scenario.model, [], Date.now());
    warnings.push(
      `domain is [] : the scenario takes every record of "${scenario.model}" (${n} today) and every one ` +
        "pushed while it runs; give it a domain to take fewer",
    );
  }
  const named: [string, string][] = [...fieldsOf(domain)].map((f) => ["domain", f]);
  if (scenario.goal !== null) for (const f of fieldsOf(parseDomain(scenario.goal, "goal"))) named.push(["goal", f]);
  for (const [where, field] of named) {
    const target = fieldTarget(scenario.model, field);
    if (target === null) continue;
    const found = await e.d1
      .prepare(
        `SELECT count(*) AS n, coalesce(max(json_type(fields, ?2) IS NOT NULL), 0) AS has
         FROM (SELECT fields FROM records WHERE model = ?1 LIMIT ?3)`,
      )
      .bind(target.model, target.path, FIELD_SAMPLE)
      .first<{ n: number; has: number }>();
    // No record yet: nothing to compare with.
    if (!found || found.n === 0 || found.has) continue;
    const among = found.n >= FIELD_SAMPLE ? ` (among the first ${FIELD_SAMPLE})` : "";
    warnings.push(
      `${where}: no record of "${target.model}" has the field "${target.field}"${among}: is it spelled right?`,
    );
  }
  return warnings;
}

/** The distinct fields a parsed domain names. */
function fieldsOf(node: DomainNode, out = new Set<string>()): Set<string> {
  if (node.kind === "clause") out.add(node.field);
  else for (const child of node.children) fieldsOf(child, out);
  return out;
}

/** Where a field is read (domain/compile.ts): `id` and `party.id` always exist; `party.x` is the party's `x`. */
function fieldTarget(model: string, field: string): { model: string; field: string; path: string } | null {
  if (field === "id" || field === "party.id") return null;
  const [on, name] = field.startsWith("party.") ? ["party", field.slice("party.".length)] : [model, field];
  return { model: on, field: name, path: `$.${name}` };
}
