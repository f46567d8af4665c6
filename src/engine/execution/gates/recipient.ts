import { ALL_TOPICS, type FrequencyCap } from "../../../db/schema";
import { effectiveWindow, nextOpening, recipientTimeZone, type SendWindow } from "../../../recipients/window";
import { type CapJob, takeSendSlots } from "../../recipients/caps";
import type { Gate } from "./gate";

/** A claimed record activity as the recipient's gates see it. */
export interface RecipientJob {
  id: number;
  scenarioId: number;
  action: string | null;
  /** The activity's own send window (raw JSON column), overriding the scenario's. */
  activitySendWindow: string | null;
  party: { id: string; fields: Record<string, unknown> } | null;
}

export type RecipientOutcome =
  | { status: "deferred"; reason: string; until: number }
  | { status: "cancelled"; reason: string };

interface ScenarioSettings {
  id: number;
  send_window: string | null;
  time_zone: string | null;
  frequency_cap: string | null;
}

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

const windowText = (w: SendWindow, tz: string) => `${w.start}–${w.end}${w.days ? ` ${w.days.join(" ")}` : ""} (${tz})`;

/**
 * The recipient's gates, in order, on a claimed batch (one D1 batch of reads, and one more when a cap applies):
 * 1. topics: a party opted out of one of the scenario's topics → cancelled, naming the topic (enrollment already
 *    keeps such parties out, and opting out cancels what waits: this catches what was claimed meanwhile);
 * 2. send window (e-mails only): due outside the activity's or scenario's window in the party's time zone →
 *    deferred to the window's next opening;
 * 3. frequency caps (e-mails only): a send slot is taken atomically, or the e-mail is deferred until the cap allows.
 * Deferred is not an attempt. Jobs not returned go on to their action.
 */
export async function checkRecipient(
  d1: D1Database,
  jobs: RecipientJob[],
  now: number,
): Promise<Map<number, RecipientOutcome>> {
  const settled = new Map<number, RecipientOutcome>();
  if (jobs.length === 0) return settled;
  const scenarioIds = JSON.stringify([...new Set(jobs.map((j) => j.scenarioId))]);
  const withParty = jobs.filter((j) => j.party !== null).map((j) => ({ id: j.id, s: j.scenarioId, p: j.party?.id }));
  const [scenarioRows, globalRow, optedOut] = await d1.batch([
    d1
      .prepare(
        "SELECT id, send_window, time_zone, frequency_cap FROM scenarios WHERE id IN (SELECT value FROM json_each(?1))",
      )
      .bind(scenarioIds),
    d1.prepare("SELECT value FROM settings WHERE key = 'frequency_cap'"),
    d1
      .prepare(
        `SELECT json_extract(j.value, '$.id') AS id, min(t.name) AS topic
         FROM json_each(?1) j
         JOIN scenario_topics st ON st.scenario_id = json_extract(j.value, '$.s')
         JOIN topic_opt_outs o ON o.party_id = json_extract(j.value, '$.p')
                              AND (o.topic_id = st.topic_id OR o.topic_id = '${ALL_TOPICS}')
         JOIN topics t ON t.id = st.topic_id
         GROUP BY j.key`,
      )
      .bind(JSON.stringify(withParty)),
  ]);
  const scenarios = new Map(((scenarioRows?.results ?? []) as ScenarioSettings[]).map((s) => [s.id, s]));
  const globalCap = parse<FrequencyCap>((globalRow?.results[0] as { value: string } | undefined)?.value ?? null);
  for (const r of (optedOut?.results ?? []) as { id: number; topic: string }[]) {
    settled.set(r.id, { status: "cancelled", reason: `the recipient opted out of the topic "${r.topic}"` });
  }

  const capped: CapJob[] = [];
  for (const j of jobs) {
    if (settled.has(j.id) || j.action !== "send_email") continue;
    const s = scenarios.get(j.scenarioId);
    const window = effectiveWindow(parse<SendWindow>(j.activitySendWindow), parse<SendWindow>(s?.send_window ?? null));
    if (window) {
      const tz = recipientTimeZone(j.party?.fields.tz, s?.time_zone ?? null);
      const opening = nextOpening(now, tz, window);
      if (opening > now) {
        settled.set(j.id, {
          status: "deferred",
          until: opening,
          reason: `outside the send window ${windowText(window, tz)}: deferred to its next opening`,
        });
        continue;
      }
    }
    const scenarioCap = parse<FrequencyCap>(s?.frequency_cap ?? null);
    if (j.party && (globalCap || scenarioCap)) {
      capped.push({ id: j.id, partyId: j.party.id, scenarioId: j.scenarioId, scenarioCap });
    }
  }
  if (capped.length > 0) {
    for (const [id, verdict] of await takeSendSlots(d1, capped, globalCap, now)) {
      if (!verdict.ok) settled.set(id, { status: "deferred", reason: verdict.reason, until: verdict.until });
    }
  }
  return settled;
}

/** The recipient's gates in the engine's list (see index.ts): topics, send window, frequency caps. */
export const recipientGate: Gate = {
  name: "recipient",
  async check(jobs, { engine, now }) {
    return checkRecipient(
      engine.d1,
      jobs.map((j) => ({
        id: j.claimed.id,
        scenarioId: j.claimed.scenario_id,
        action: j.activity.action,
        activitySendWindow: j.activity.send_window,
        party: j.job.party,
      })),
      now,
    );
  },
};
