import { parseDuration } from "../../domain/duration";
import type { Engine } from "../ports";

/** A running scenario as enrollment reads it. */
export interface ScenarioToEnroll {
  id: number;
  model: string;
  domain: string;
}

/**
 * When a scenario needs an enrollment pass. Records written through the API are enrolled at once (the direct path,
 * `enroll(e, { only })`), so a periodic pass only finds what that path cannot:
 * - records that come to match with time, when the domain has a `{"now": …}` value: a pass at the granularity the
 *   domain can change (`timeGranularityMs`), aligned on the clock so no state has to be kept for it;
 * - writes whose direct enrollment failed or never reported (the isolate ended first), writes of parties when the
 *   domain reads party fields (`party.email` on a sale), a changed domain or topics, a party opting back in to one of
 *   its topics, a run whose pass could not start. These
 *   raise the scenario's `enroll_pending`, and the first five-minute cycle after `PENDING_GRACE_MS` passes it.
 * An idle scenario whose records all came through the write path thus gets no pass at all: its cycle reads the
 * running scenarios' rows and nothing else. Passes on demand (`POST /api/jobs/enroll`, running a scenario) are
 * unchanged.
 */

/** The enrollment cron's period. */
export const CYCLE_MS = 5 * 60_000;
/** The coarsest period of a time-relative domain's passes. */
export const MAX_TIME_PASS_MS = 60 * 60_000;
/** A direct enrollment normally reports within this; a write pending for longer is taken as lost. */
export const PENDING_GRACE_MS = 2 * 60_000;

const UNIT_MS = { seconds: 1_000, minutes: 60_000, hours: 3_600_000 } as const;

/**
 * How often the domain's matches can change with time alone: null without a `now` value; otherwise the size of the
 * finest unit its durations use (`-PT10M` → 10 minutes' unit, one minute; `-P30D` → a day), kept between one cycle
 * and an hour. A record then enters at most that late after it came to match.
 */
export function timeGranularityMs(domain: unknown): number | null {
  let finest: number | null = null;
  const visit = (node: unknown) => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child);
    } else if (node !== null && typeof node === "object" && "now" in node) {
      const d = parseDuration(String((node as { now: unknown }).now));
      let unit: number = MAX_TIME_PASS_MS;
      if (d?.seconds) unit = UNIT_MS.seconds;
      else if (d?.minutes) unit = UNIT_MS.minutes;
      else if (d?.hours) unit = UNIT_MS.hours;
      else if (d && !d.years && !d.months && !d.weeks && !d.days) unit = UNIT_MS.seconds; // PT0S: "now" itself
      finest = Math.min(finest ?? Number.POSITIVE_INFINITY, unit);
    }
  };
  visit(domain);
  if (finest === null) return null;
  return Math.min(MAX_TIME_PASS_MS, Math.max(CYCLE_MS, finest));
}

/** Whether the cycle at `now` is the first of a new period of `period` ms (periods aligned on the epoch). */
export const startsPeriod = (now: number, period: number) =>
  Math.floor(now / period) !== Math.floor((now - CYCLE_MS) / period);

export interface DuePass extends ScenarioToEnroll {
  reason: "pending" | "time";
}

/** The running scenarios the five-minute cycle at `now` must pass, and why. Reads one row per running scenario. */
export async function scenariosDueForPass(e: Engine, now: number): Promise<DuePass[]> {
  const { results } = await e.d1
    .prepare(
      `SELECT id, model, domain, enroll_pending, enroll_pending_since FROM scenarios
       WHERE state = 'running' ORDER BY id`,
    )
    .all<ScenarioToEnroll & { enroll_pending: number; enroll_pending_since: number | null }>();
  const due: DuePass[] = [];
  for (const { enroll_pending, enroll_pending_since, ...s } of results) {
    if (enroll_pending > 0 && (enroll_pending_since ?? 0) <= now - PENDING_GRACE_MS) {
      due.push({ ...s, reason: "pending" });
      continue;
    }
    let period: number | null = null;
    try {
      period = timeGranularityMs(JSON.parse(s.domain));
    } catch {
      period = CYCLE_MS; // a domain that does not parse: the pass reports it
    }
    if (period !== null && startsPeriod(now, period)) due.push({ ...s, reason: "time" });
  }
  return due;
}

/**
 * Before records of `model` are written through the API: every running scenario whose matches they may change owes
 * a pass until their direct enrollment reports (`directEnrollmentDone`). Scenarios of the model are enrolled
 * directly; other models' scenarios whose domain reads party fields are not, so a party write leaves them pending.
 */
export async function noteRecordWrites(e: Engine, model: string, now: number): Promise<void> {
  await e.d1
    .prepare(
      `UPDATE scenarios SET enroll_pending = enroll_pending + 1, enroll_pending_since = COALESCE(enroll_pending_since, ?2)
       WHERE state = 'running' AND (model = ?1 OR (?1 = 'party' AND domain LIKE '%"party.%'))`,
    )
    .bind(model, now)
    .run();
}

/** A direct enrollment of the scenario went through: one write fewer owes a pass. */
export function directEnrollmentDone(e: Engine, scenarioId: number) {
  return e.d1
    .prepare(
      `UPDATE scenarios SET enroll_pending = MAX(enroll_pending - 1, 0),
         enroll_pending_since = CASE WHEN enroll_pending <= 1 THEN NULL ELSE enroll_pending_since END
       WHERE id = ? AND enroll_pending > 0`,
    )
    .bind(scenarioId)
    .run();
}

/** The scenario owes a pass at the next cycle: a failed direct enrollment, a changed domain, a run. */
export function owePass(e: Engine, scenarioId: number) {
  return e.d1
    .prepare("UPDATE scenarios SET enroll_pending = enroll_pending + 1, enroll_pending_since = 0 WHERE id = ?")
    .bind(scenarioId);
}

/** A full pass begins: everything written before it is covered, so nothing is owed any more. */
export function passBegins(e: Engine, scenarioId: number) {
  return e.d1
    .prepare(
      "UPDATE scenarios SET enroll_pending = 0, enroll_pending_since = NULL WHERE id = ? AND enroll_pending != 0",
    )
    .bind(scenarioId)
    .run();
}
