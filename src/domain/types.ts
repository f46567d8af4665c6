/** A domain as stored and exchanged: JSON in the style of Tryton domains (see docs/domain.md). */
export type Domain = unknown[];

export const OPERATORS = [
  "=",
  "!=",
  "<",
  "<=",
  ">",
  ">=",
  "in",
  "not in",
  "like",
  "ilike",
  "not like",
  "not ilike",
] as const;
export type Operator = (typeof OPERATORS)[number];

export type Scalar = string | number | boolean | null;
/** `{"now": "-P30D"}`: the current time shifted by an ISO 8601 duration, resolved when the domain runs. */
export interface NowValue {
  now: string;
}
export type ClauseValue = Scalar | NowValue | Scalar[];

export type DomainNode =
  | { kind: "and" | "or"; children: DomainNode[] }
  | { kind: "clause"; field: string; operator: Operator; value: ClauseValue };

/** A domain that does not parse: `path` is the JSON path of the offending part (`domain[1][1]`). */
export class DomainError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "DomainError";
  }
}

/** Bounds that keep hostile domains cheap to parse and within D1's 100 bound parameters a query. */
export const DOMAIN_LIMITS = {
  /**
   * UTF-8 bytes of the whole domain as JSON: it is stored in one row and an `in` list travels as one bound parameter,
   * both held by D1 to 2,000,000 bytes; 256 KiB leaves room and keeps evaluation cheap.
   */
  maxBytes: 256 * 1024,
  maxDepth: 16,
  maxClauses: 40,
  maxInList: 10_000,
  maxStringLength: 1_000,
  maxFieldLength: 128,
  /** D1 refuses LIKE and GLOB patterns longer than 50 bytes (after the `like` → GLOB translation). */
  maxPatternBytes: 50,
} as const;
