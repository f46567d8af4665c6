import type { EmailTranslations, FrequencyCap } from "../../db/schema";
import { parseDuration } from "../../domain/duration";
import { templateProblem } from "../../domain/template";
import { invalid } from "../../errors";
import { normalizeLang } from "../../recipients/language";
import { isTimeZone, type SendWindow, windowProblem } from "../../recipients/window";

/** Checks of the recipient-facing settings of scenarios and activities, each a 400 naming its field. */

export function checkSendWindow(w: SendWindow | null | undefined, field = "send_window") {
  if (w == null) return;
  const problem = windowProblem(w, field);
  if (problem) throw invalid(problem);
}

export function checkTimeZone(tz: string | null | undefined, field = "time_zone") {
  if (tz == null) return;
  if (!isTimeZone(tz)) throw invalid(`${field}: "${tz}" is not an IANA time zone (e.g. Europe/Paris)`);
}

/** The longest period a cap may count over: the send slots of older e-mails are not kept. */
export const MAX_CAP_PERIOD_MS = 31 * 86_400_000;

/** A cap's period in milliseconds (`P1D` → 86,400,000): days and times only, so it means the same every day. */
export function capPeriodMs(period: string): number | null {
  const d = parseDuration(period);
  if (!d || d.sign < 0 || d.years || d.months) return null;
  const ms = (((d.weeks * 7 + d.days) * 24 + d.hours) * 60 + d.minutes) * 60_000 + d.seconds * 1000;
  return ms > 0 && ms <= MAX_CAP_PERIOD_MS ? ms : null;
}

export function checkFrequencyCap(cap: FrequencyCap | null | undefined, field = "frequency_cap") {
  if (cap == null) return;
  if (!Number.isInteger(cap.max) || cap.max < 1 || cap.max > 1000) {
    throw invalid(`${field}.max: must be an integer from 1 to 1000`);
  }
  if (capPeriodMs(cap.period) === null) {
    throw invalid(`${field}.period: must be an ISO 8601 duration of days and times up to P31D (e.g. P1D, PT12H)`);
  }
}

const MAX_TRANSLATIONS = 50;

/** Each language version: a language tag, both templates present and parsing. */
export function checkTranslations(t: EmailTranslations | null | undefined, field = "email_translations") {
  if (t == null) return;
  const keys = Object.keys(t);
  if (keys.length > MAX_TRANSLATIONS) throw invalid(`${field}: at most ${MAX_TRANSLATIONS} languages`);
  const seen = new Set<string>();
  for (const lang of keys) {
    const tag = normalizeLang(lang);
    if (!tag) throw invalid(`${field}.${lang}: not a language tag (e.g. fr, fr_CA)`);
    if (seen.has(tag)) throw invalid(`${field}.${lang}: the same language is given twice`);
    seen.add(tag);
    const version = t[lang] as { email_title?: unknown; email_template?: unknown };
    for (const part of ["email_title", "email_template"] as const) {
      const text = version?.[part];
      if (typeof text !== "string" || !text.trim()) throw invalid(`${field}.${lang}.${part}: required`);
      const problem = templateProblem(text);
      if (problem) throw invalid(`${field}.${lang}.${part}: the template does not parse: ${problem}`);
    }
  }
}
