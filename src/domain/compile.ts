import { addDuration, DURATION_LIMITS, parseDuration } from "./duration";
import type { ClauseValue, DomainNode, NowValue, Scalar } from "./types";

/** SQL aliases the compiled condition refers to. */
export interface CompileTarget {
  /** Alias of the `records` row being filtered. */
  record: string;
  /** Alias of the party's `records` row (joined on `party_id`), or null when filtering parties themselves. */
  party: string | null;
}

export interface CompiledDomain {
  /** A boolean SQL expression; every value from the domain is a bound `?` parameter. */
  sql: string;
  params: (string | number | null)[];
  /** True when the expression reads the party row: the caller must LEFT JOIN it. */
  usesParty: boolean;
}

/** Compiles a parsed domain to a SQL condition over the records' JSON fields. `now` resolves `{"now": …}` values. */
export function compileDomain(node: DomainNode, target: CompileTarget, now: number): CompiledDomain {
  const params: (string | number | null)[] = [];
  const state = { usesParty: false };
  const bind = (value: string | number | null) => {
    params.push(value);
    return "?";
  };
  const sql = compileNode(node, target, now, bind, state);
  return { sql, params, usesParty: state.usesParty };
}

type Bind = (value: string | number | null) => string;

function compileNode(
  node: DomainNode,
  target: CompileTarget,
  now: number,
  bind: Bind,
  state: { usesParty: boolean },
): string {
  if (node.kind !== "clause") {
    if (node.children.length === 0) return node.kind === "and" ? "1" : "0";
    const parts = node.children.map((child) => compileNode(child, target, now, bind, state));
    return parts.length === 1 ? (parts[0] as string) : `(${parts.join(node.kind === "and" ? " AND " : " OR ")})`;
  }
  // Each clause reads its field once and binds its value once (two parameters at most), so the largest domain
  // allowed stays within D1's 100 bound parameters. NULL-tolerant forms use coalesce instead of a second read.
  const column = fieldExpression(node.field, target, bind, state);
  const { operator, value } = node;
  switch (operator) {
    case "=":
      return value === null ? `${column} IS NULL` : `${column} = ${bind(sqlValue(value, now))}`;
    case "!=":
      // Like Tryton, "!=" also matches records where the field is empty.
      return value === null ? `${column} IS NOT NULL` : `${column} IS NOT ${bind(sqlValue(value, now))}`;
    case "<":
    case "<=":
    case ">":
    case ">=":
      return `${column} ${operator} ${bind(sqlValue(value, now))}`;
    case "in":
    case "not in": {
      const list = value as Scalar[];
      const hasNull = list.includes(null);
      const values = bind(JSON.stringify(list.filter((v) => v !== null)));
      const member = `${column} IN (SELECT value FROM json_each(${values}))`;
      // With a NULL field, IN yields NULL: coalesce decides whether an empty field matches.
      if (operator === "in") return hasNull ? `coalesce(${member}, 1)` : member;
      return `coalesce(NOT ${member}, ${hasNull ? 0 : 1})`;
    }
    case "like":
      return `${column} GLOB ${bind(likeToGlob(value as string))}`;
    case "not like":
      return `coalesce(NOT ${column} GLOB ${bind(likeToGlob(value as string))}, 1)`;
    case "ilike":
      return `${column} LIKE ${bind(value as string)} ESCAPE '\\'`;
    case "not ilike":
      return `coalesce(NOT ${column} LIKE ${bind(value as string)} ESCAPE '\\', 1)`;
  }
}

/** The SQL expression reading a field. Field names were validated as dotted identifiers, and paths are bound too. */
function fieldExpression(field: string, target: CompileTarget, bind: Bind, state: { usesParty: boolean }): string {
  const { record, party } = target;
  if (field === "id") return `${record}.id`;
  if (field === "party.id") return party === null ? `${record}.id` : `${record}.party_id`;
  if (field.startsWith("party.")) {
    const rest = field.slice("party.".length);
    if (party === null) return `json_extract(${record}.fields, ${bind(`$.${rest}`)})`;
    state.usesParty = true;
    return `json_extract(${party}.fields, ${bind(`$.${rest}`)})`;
  }
  return `json_extract(${record}.fields, ${bind(`$.${field}`)})`;
}

function sqlValue(value: ClauseValue, now: number): string | number | null {
  if (value === null) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "object") return resolveNow(value as NowValue, now);
  return value as string | number;
}

/**
 * `{"now": "-P30D"}` as an ISO 8601 UTC timestamp, comparable with ISO dates stored in records. Shifts were bounded
 * (±P200Y) when saved; one saved before that check is clamped to the bound rather than making an invalid date.
 */
export function resolveNow(value: NowValue, now: number): string {
  const duration = parseDuration(value.now);
  const max = DURATION_LIMITS.maxNowShiftMs;
  const shifted = duration ? addDuration(now, duration) : now;
  const at = Number.isFinite(shifted) ? Math.min(Math.max(shifted, now - max), now + max) : now;
  return new Date(at).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Translates a `like` pattern (`%`, `_`, `\` escapes) to a case-sensitive GLOB pattern. */
export function likeToGlob(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === "\\" && i + 1 < pattern.length) {
      out += globLiteral(pattern[++i] as string);
    } else if (ch === "%") {
      out += "*";
    } else if (ch === "_") {
      out += "?";
    } else {
      out += globLiteral(ch);
    }
  }
  return out;
}

function globLiteral(ch: string): string {
  return ch === "*" || ch === "?" || ch === "[" ? `[${ch}]` : ch;
}
