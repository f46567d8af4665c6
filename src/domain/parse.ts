import { likeToGlob } from "./compile";
import { DURATION_LIMITS, durationProblem } from "./duration";
import {
  type ClauseValue,
  DOMAIN_LIMITS,
  DomainError,
  type DomainNode,
  OPERATORS,
  type Operator,
  type Scalar,
} from "./types";

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

/**
 * Parses and validates a domain. Throws a DomainError naming the JSON path of the first offending part, rooted at
 * `root` (`domain`, `condition`).
 */
export function parseDomain(input: unknown, root = "domain"): DomainNode {
  const state = { clauses: 0 };
  const bytes = jsonBytes(input);
  if (!Number.isFinite(bytes)) throw new DomainError(root, "nested too deeply to read");
  if (bytes > DOMAIN_LIMITS.maxBytes) {
    throw new DomainError(root, `takes ${bytes} bytes as JSON, more than the limit of ${DOMAIN_LIMITS.maxBytes}`);
  }
  return parseList(input, root, 0, state);
}

function parseList(input: unknown, path: string, depth: number, state: { clauses: number }): DomainNode {
  if (!Array.isArray(input)) throw new DomainError(path, "a domain must be a JSON array");
  if (depth > DOMAIN_LIMITS.maxDepth) {
    throw new DomainError(path, `nested deeper than ${DOMAIN_LIMITS.maxDepth} levels`);
  }
  let kind: "and" | "or" = "and";
  let start = 0;
  if (input[0] === "AND" || input[0] === "OR") {
    kind = input[0] === "OR" ? "or" : "and";
    start = 1;
  }
  const children: DomainNode[] = [];
  for (let i = start; i < input.length; i++) {
    children.push(parseElement(input[i], `${path}[${i}]`, depth + 1, state));
  }
  return { kind, children };
}

function parseElement(input: unknown, path: string, depth: number, state: { clauses: number }): DomainNode {
  if (!Array.isArray(input)) {
    throw new DomainError(
      path,
      `expected a clause [field, operator, value] or a nested domain, got ${describe(input)}`,
    );
  }
  const isClause = typeof input[0] === "string" && input[0] !== "AND" && input[0] !== "OR";
  if (!isClause) return parseList(input, path, depth, state);
  state.clauses += 1;
  if (state.clauses > DOMAIN_LIMITS.maxClauses) {
    throw new DomainError(path, `more than ${DOMAIN_LIMITS.maxClauses} clauses`);
  }
  if (input.length !== 3) {
    throw new DomainError(path, `a clause is [field, operator, value], got ${input.length} elements`);
  }
  const [field, operator, value] = input as [string, unknown, unknown];
  if (field.length > DOMAIN_LIMITS.maxFieldLength || !FIELD.test(field)) {
    throw new DomainError(`${path}[0]`, `invalid field name ${JSON.stringify(field.slice(0, 64))}`);
  }
  if (typeof operator !== "string" || !(OPERATORS as readonly string[]).includes(operator)) {
    throw new DomainError(`${path}[1]`, `unknown operator ${JSON.stringify(operator)}`);
  }
  return {
    kind: "clause",
    field,
    operator: operator as Operator,
    value: parseValue(operator as Operator, value, `${path}[2]`),
  };
}

function parseValue(operator: Operator, value: unknown, path: string): ClauseValue {
  switch (operator) {
    case "=":
    case "!=":
      return scalarOrNow(value, path, true);
    case "<":
    case "<=":
    case ">":
    case ">=":
      return scalarOrNow(value, path, false);
    case "in":
    case "not in": {
      if (!Array.isArray(value)) throw new DomainError(path, `"${operator}" takes an array, got ${describe(value)}`);
      if (value.length > DOMAIN_LIMITS.maxInList) {
        throw new DomainError(
          path,
          `"${operator}" takes at most ${DOMAIN_LIMITS.maxInList} values, got ${value.length}`,
        );
      }
      return value.map((v, i) => scalar(v, `${path}[${i}]`, true));
    }
    default: {
      if (typeof value !== "string")
        throw new DomainError(path, `"${operator}" takes a string pattern, got ${describe(value)}`);
      const compiled = operator.endsWith("ilike") ? value : likeToGlob(value);
      if (new TextEncoder().encode(compiled).length > DOMAIN_LIMITS.maxPatternBytes) {
        throw new DomainError(path, `the pattern is longer than D1 allows (${DOMAIN_LIMITS.maxPatternBytes} bytes)`);
      }
      return scalar(value, path, false);
    }
  }
}

function scalarOrNow(value: unknown, path: string, allowNull: boolean): ClauseValue {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const now = (value as { now?: unknown }).now;
    if (keys.length !== 1 || typeof now !== "string") {
      throw new DomainError(path, 'an object value must be {"now": "<ISO 8601 duration>"}');
    }
    const problem = durationProblem(now, {
      max: DURATION_LIMITS.maxNowShift,
      maxMs: DURATION_LIMITS.maxNowShiftMs,
      negative: true,
    });
    if (problem) throw new DomainError(`${path}.now`, problem);
    return { now };
  }
  return scalar(value, path, allowNull);
}

function scalar(value: unknown, path: string, allowNull: boolean): Scalar {
  if (value === null) {
    if (allowNull) return null;
    throw new DomainError(path, "null is only allowed with =, !=, in and not in");
  }
  if (typeof value === "string") {
    if (value.length > DOMAIN_LIMITS.maxStringLength) {
      throw new DomainError(path, `string longer than ${DOMAIN_LIMITS.maxStringLength} characters`);
    }
    return value;
  }
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new DomainError(path, "numbers must be finite");
    return value;
  }
  if (typeof value === "boolean") return value;
  throw new DomainError(path, `expected a string, number, boolean or null, got ${describe(value)}`);
}

/** UTF-8 bytes of the value as JSON; a value too deep to serialise counts as too large. */
function jsonBytes(value: unknown): number {
  try {
    return new TextEncoder().encode(JSON.stringify(value) ?? "").length;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)?.slice(0, 40)}`;
}
