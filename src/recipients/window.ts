/**
 * Send windows: "only between 09:00 and 18:00 local time, on weekdays", in the recipient's IANA time zone. Pure: the
 * only clock is the `due` time given, and local time comes from `Intl.DateTimeFormat` (which workerd supports).
 */

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface SendWindow {
  /** Local opening time, `HH:MM` (24 h). */
  start: string;
  /** Local closing time, `HH:MM`, after `start`; the window is [start, end). */
  end: string;
  /** The days the window opens on; every day when omitted. */
  days?: Weekday[];
}

const HHMM = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;
const DAY_MS = 86_400_000;

const minutesOf = (hhmm: string): number => {
  const m = HHMM.exec(hhmm) as RegExpExecArray;
  return Number(m[1]) * 60 + Number(m[2]);
};

/** The problem with a window, prefixed with its field (`send_window.start: …`), or null when it is valid. */
export function windowProblem(w: unknown, field = "send_window"): string | null {
  if (w === null || typeof w !== "object" || Array.isArray(w)) return `${field}: must be an object {start, end, days}`;
  const o = w as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!["start", "end", "days"].includes(k)) return `${field}.${k}: unknown field (start, end, days)`;
  }
  for (const k of ["start", "end"] as const) {
    if (typeof o[k] !== "string" || !HHMM.test(o[k] as string)) return `${field}.${k}: must be a local time HH:MM`;
  }
  if (minutesOf(o.start as string) >= minutesOf(o.end as string)) {
    return `${field}.end: must be after start (a window does not span midnight)`;
  }
  if (o.days !== undefined) {
    if (!Array.isArray(o.days) || o.days.length === 0) return `${field}.days: must be a non-empty list of days`;
    for (const [i, d] of o.days.entries()) {
      if (!WEEKDAYS.includes(d as Weekday)) return `${field}.days[${i}]: must be one of ${WEEKDAYS.join(", ")}`;
    }
  }
  return null;
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();

/** A cached formatter giving the wall-clock parts in `tz`; null when the runtime does not know the zone. */
function formatter(tz: string): Intl.DateTimeFormat | null {
  let f = formatters.get(tz);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone: tz,
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
        weekday: "short",
      });
    } catch {
      f = null;
    }
    if (formatters.size > 500) formatters.clear();
    formatters.set(tz, f);
  }
  return f;
}

/** True when `tz` is an IANA time zone the runtime knows (`Europe/Paris`, `UTC`). */
export const isTimeZone = (tz: unknown): tz is string => typeof tz === "string" && tz.length < 100 && !!formatter(tz);

interface Wall {
  /** The wall-clock time read as if it were UTC (ms): day arithmetic on it needs no time zone. */
  ms: number;
  weekday: Weekday;
}

function wallClock(f: Intl.DateTimeFormat, t: number): Wall {
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(t)) p[part.type] = part.value;
  const ms = Date.UTC(
    Number(p.year),
    Number(p.month) - 1,
    Number(p.day),
    Number(p.hour),
    Number(p.minute),
    Number(p.second),
  );
  return { ms: ms + (((t % 1000) + 1000) % 1000), weekday: (p.weekday ?? "").toLowerCase().slice(0, 3) as Weekday };
}

/**
 * The instant a wall-clock time happens in `tz`. In a DST gap (02:30 on the spring-forward night), the first instant
 * after the gap (03:00, when the clocks jump): the first wall-clock time that exists after it, so a window opening in
 * the gap opens when the day's clock reaches it; in an overlap (02:30 twice in autumn), the first one.
 */
function instantOf(f: Intl.DateTimeFormat, wall: number): number {
  const offset = (t: number) => wallClock(f, t).ms - t;
  const before = wall - offset(wall - DAY_MS);
  const after = wall - offset(wall + DAY_MS);
  const fits = (t: number) => wallClock(f, t).ms === wall;
  if (fits(before) && fits(after)) return Math.min(before, after);
  if (fits(after)) return after;
  if (fits(before)) return before;
  // A gap: `after` reads before the gap, `before` after it by the gap's length. The clocks jump between the two: find
  // that instant (to the millisecond; transitions fall on whole seconds), the first whose wall clock is past `wall`.
  let lo = Math.min(before, after);
  let hi = Math.max(before, after);
  if (wallClock(f, lo).ms >= wall) return lo;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallClock(f, mid).ms >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * When work due at `due` may be sent: `due` itself when it falls inside the window in `tz`, else the window's next
 * opening. An unknown time zone counts as UTC (time zones are checked when saved; a party's own `tz` may be anything).
 */
export function nextOpening(due: number, tz: string, w: SendWindow): number {
  const f = formatter(tz) ?? (formatter("UTC") as Intl.DateTimeFormat);
  const start = minutesOf(w.start) * 60_000;
  const end = minutesOf(w.end) * 60_000;
  const days = new Set<Weekday>(w.days ?? WEEKDAYS);
  const now = wallClock(f, due);
  const midnight = now.ms - (((now.ms % DAY_MS) + DAY_MS) % DAY_MS);
  const sinceMidnight = now.ms - midnight;
  if (days.has(now.weekday) && sinceMidnight >= start && sinceMidnight < end) return due;
  const first = WEEKDAYS.indexOf(now.weekday);
  for (let d = 0; d <= 7; d++) {
    if (d === 0 && sinceMidnight >= start) continue;
    if (!days.has(WEEKDAYS[(first + d) % 7] as Weekday)) continue;
    return Math.max(due, instantOf(f, midnight + d * DAY_MS + start));
  }
  return due; // unreachable: `days` is never empty
}

/** The activity's window, else the scenario's; null when neither has one (send at any time). */
export const effectiveWindow = (activity: SendWindow | null, scenario: SendWindow | null): SendWindow | null =>
  activity ?? scenario;

/** The recipient's time zone: the party's `tz` when it is one the runtime knows, else the scenario's default, else UTC. */
export function recipientTimeZone(partyTz: unknown, scenarioDefault: string | null): string {
  if (isTimeZone(partyTz)) return partyTz;
  return scenarioDefault && isTimeZone(scenarioDefault) ? scenarioDefault : "UTC";
}
