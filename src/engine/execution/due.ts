import { unsubscribeToken } from "../../ids";
import { trackingSecretOf } from "../../signing/keys";
import { unsubscribeSecretOf } from "../../signing/tokens";
import type { ActionJob, Engine } from "../ports";
import type { Claimed } from "./claim";

/** An activity as the engine reads it to execute it (raw columns). */
export interface DueActivity {
  id: number;
  scenario_id: number;
  parent_id: number | null;
  name: string;
  on: string | null;
  condition: string | null;
  delay: string | null;
  action: string | null;
  email_from: string | null;
  email_title: string | null;
  email_template: string | null;
  /** JSON: other language versions of the e-mail. */
  email_translations: string | null;
  /** JSON: the activity's own send window. */
  send_window: string | null;
  /** JSON text. */
  settings: string | null;
}

/**
 * A claimed record activity with what gates and actions need: its activity, and the record and party as they are now.
 * `job` is what its action is given (its settings are filled in just before the action runs).
 */
export interface DueJob {
  claimed: Claimed;
  activity: DueActivity;
  model: string;
  job: ActionJob<unknown>;
}

interface Context {
  id: number;
  model: string;
  record_id: string;
  token: string;
  record_exists: number;
  record_fields: string | null;
  party_id: string | null;
  party_fields: string | null;
}

/**
 * Reads, in one D1 batch, the activities, scenarios, records and parties of a claimed batch. A record activity whose
 * activity or record is gone gets its cancellation reason instead of a job.
 */
export async function loadDueJobs(
  e: Engine,
  claimed: Claimed[],
): Promise<{ jobs: DueJob[]; gone: Map<number, string> }> {
  const ids = JSON.stringify(claimed.map((c) => c.id));
  const activityIds = JSON.stringify([...new Set(claimed.map((c) => c.activity_id))]);
  const [contexts, activities, scenarios] = await e.d1.batch([
    e.d1
      .prepare(
        `SELECT ra.id, sr.model, sr.record_id, sr.token, (r.id IS NOT NULL) AS record_exists,
                r.fields AS record_fields, r.party_id AS party_id, p.fields AS party_fields
         FROM record_activities ra
         JOIN scenario_records sr ON sr.id = ra.scenario_record_id
         LEFT JOIN records r ON r.model = sr.model AND r.id = sr.record_id
         LEFT JOIN records p ON p.model = 'party' AND p.id = r.party_id
         WHERE ra.id IN (SELECT value FROM json_each(?1))`,
      )
      .bind(ids),
    e.d1.prepare("SELECT * FROM activities WHERE id IN (SELECT value FROM json_each(?1))").bind(activityIds),
    e.d1
      .prepare(
        "SELECT id, name FROM scenarios WHERE id IN (SELECT scenario_id FROM activities WHERE id IN (SELECT value FROM json_each(?1)))",
      )
      .bind(activityIds),
  ]);
  const contextById = new Map(((contexts?.results ?? []) as Context[]).map((c) => [c.id, c]));
  const activityById = new Map(((activities?.results ?? []) as DueActivity[]).map((a) => [a.id, a]));
  const scenarioName = new Map(
    ((scenarios?.results ?? []) as { id: number; name: string }[]).map((s) => [s.id, s.name]),
  );
  const jobs: DueJob[] = [];
  const gone = new Map<number, string>();
  const trackingSecret = trackingSecretOf(e.env);
  for (const c of claimed) {
    const ctx = contextById.get(c.id);
    const activity = activityById.get(c.activity_id);
    if (!ctx || !activity) {
      gone.set(c.id, "the activity was deleted");
      continue;
    }
    if (!ctx.record_exists) {
      gone.set(c.id, "the record was deleted");
      continue;
    }
    jobs.push({
      claimed: c,
      activity,
      model: ctx.model,
      job: {
        recordActivityId: c.id,
        attempt: c.attempts,
        scenario: { id: c.scenario_id, name: scenarioName.get(c.scenario_id) ?? "" },
        activity: { id: activity.id, name: activity.name, settings: null },
        scenarioRecord: {
          id: c.scenario_record_id,
          token: unsubscribeToken(
            c.scenario_record_id,
            await unsubscribeSecretOf(trackingSecret, { id: c.scenario_record_id, token: ctx.token }),
          ),
        },
        record: { model: ctx.model, id: ctx.record_id, fields: JSON.parse(ctx.record_fields ?? "{}") },
        party:
          ctx.party_id !== null && ctx.party_fields !== null
            ? { id: ctx.party_id, fields: JSON.parse(ctx.party_fields) }
            : null,
      },
    });
  }
  return { jobs, gone };
}
