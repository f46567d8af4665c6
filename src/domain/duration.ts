/**
 * ISO 8601 durations (`PT30M`, `P2D`, `P1Y2M`, `-P30D`), parsed and added to instants in UTC. Years and months move
 * the calendar (January 31 + P1M is the last day of February); weeks, days and times are exact.
 */
export interface Duration {
  sign: 1 | -1;
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const PATTERN =
  /^([+-])?P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration; returns null when the text is not one. */
export function parseDuration(text: string): Duration | null {
  const m = PATTERN.exec(text);
  if (!m || text.endsWith("T") || /^[+-]?P$/.test(text)) return null;
  const n = (i: number) => (m[i] ? Number(m[i]) : 0);
  const duration: Duration = {
    sign: m[1] === "-" ? -1 : 1,
    years: n(2),
    months: n(3),
    weeks: n(4),
    days: n(5),
    hours: n(6),
    minutes: n(7),
    seconds: m[8] ? Number(m[8].replace(",", ".")) : 0,
  };
  const values = [duration.years, duration.months, duration.weeks, duration.days, duration.hours, duration.minutes];
  if (!values.every(Number.isSafeInteger) || !Number.isFinite(duration.seconds)) return null;
  return duration;
}

/** `at` (epoch ms) shifted by the duration. */
export function addDuration(at: number, d: Duration): number {
  const date = new Date(at);
  if (d.years || d.months) {
    const day = date.getUTCDate();
    date.setUTCDate(1);
    date.setUTCMonth(date.getUTCMonth() + d.sign * (d.years * 12 + d.months));
    const lastDay = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    date.setUTCDate(Math.min(day, lastDay));
  }
  const exact = ((d.weeks * 7 + d.days) * 86400 + d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
  return date.getTime() + d.sign * exact;
}

/** True when the duration is zero or negative (`-PT1S`). */
export function isNegative(d: Duration): boolean {
  return d.sign === -1 && (d.years || d.months || d.weeks || d.days || d.hours || d.minutes || d.seconds) !== 0;
}

const DAY_MS = 86_400_000;

/**
 * Bounds every duration is checked against when it is saved, so no due time or `{"now": …}` value can leave what
 * JavaScript dates and SQLite integers hold: an activity delay lies between PT0S and P5Y, a `{"now": …}` shift between
 * -P200Y and P200Y.
 */
export const DURATION_LIMITS = {
  maxDelay: "P5Y",
  maxDelayMs: 5 * 366 * DAY_MS,
  maxNowShift: "P200Y",
  maxNowShiftMs: 200 * 366 * DAY_MS,
} as const;

/** The longest span the duration can cover (a year counted as 366 days, a month as 30.5, so that P60M is P5Y), in milliseconds. */
export function longestSpanMs(d: Duration): number {
  const days = d.years * 366 + d.months * 30.5 + d.weeks * 7 + d.days;
  return days * DAY_MS + (d.hours * 3600 + d.minutes * 60 + d.seconds) * 1000;
}

/**
 * Why the text is not an acceptable duration, or null when it is: an ISO 8601 duration whose span stays within
 * `maxMs` (either way), not negative unless `negative` is allowed.
 */
export function durationProblem(text: string, bounds: { maxMs: number; max: string; negative: boolean }) {
  const d = parseDuration(text);
  if (!d) return `${JSON.stringify(text.slice(0, 64))} is not an ISO 8601 duration (e.g. PT30M, P2D)`;
  if (!bounds.negative && isNegative(d)) return "must not be negative";
  const span = longestSpanMs(d);
  if (!Number.isFinite(span) || span > bounds.maxMs) {
    return `must be at most ${bounds.negative ? `${bounds.max} either way` : bounds.max}`;
  }
  return null;
}

/**
 * Epoch ms of `at` + the ISO duration text, or `at` when the text is null. Never throws and never leaves the bounds:
 * delays are checked when saved, and a row saved before these checks with a delay they refuse is clamped to
 * [at, at + P5Y], so one bad row cannot stop the scheduler or enrollment.
 */
export function shiftBy(at: number, text: string | null): number {
  if (text === null) return at;
  const d = parseDuration(text);
  const shifted = d ? addDuration(at, d) : Number.NaN;
  if (!Number.isFinite(shifted)) return at + DURATION_LIMITS.maxDelayMs;
  return Math.min(Math.max(shifted, at), at + DURATION_LIMITS.maxDelayMs);
}
