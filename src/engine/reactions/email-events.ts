import { RUNNING } from "../../db/claims";
import { shiftBy } from "../../domain/duration";
import { conflict, notFound } from "../../errors";
import type { Engine } from "../ports";
import { cancelMissedEventChildren, makeEventChildrenDue, setEmailEventFlag } from "../record-activities/transitions";

export type EmailEvent = "opened" | "clicked";

export interface EventResult {
  /** False when the event had already been recorded: a repeated event changes nothing. */
  changed: boolean;
}

interface Target {
  id: number;
  scenario_record_id: number;
  activity_id: number;
  shard: number;
  state: string;
  email_opened: number;
  email_clicked: number;
  action: string | null;
}

/**
 * Records an e-mail event on the record activity that sent the e-mail (from a tracking hit or by hand):
 * sets the flag once; its waiting `email_X` children become due at now + their delay; its waiting `email_not_X`
 * children are cancelled. A click also counts as an open, with the open's effects if it had not happened yet. Only
 * waiting children are touched, so nothing done or cancelled comes back. All of it is one D1 batch.
 */
export async function recordEmailEvent(e: Engine, recordActivityId: number, event: EmailEvent): Promise<EventResult> {
  const target = await e.d1
    .prepare(
      `SELECT ra.id, ra.scenario_record_id, ra.activity_id, ra.shard, ra.email_opened, ra.email_clicked, a.action,
              CASE WHEN ${RUNNING("ra")} THEN 'running' ELSE ra.state END AS state
       FROM record_activities ra JOIN activities a ON a.id = ra.activity_id WHERE ra.id = ?`,
    )
    .bind(recordActivityId)
    .first<Target>();
  if (!target) throw notFound("record activity", recordActivityId);
  if (target.action !== "send_email") {
    throw conflict(
      `record activity ${recordActivityId} did not send an e-mail: its activity's action is not "send_email"`,
    );
  }
  // `running`: its claim holds it, so the e-mail may be out already (an open can come before the commit).
  if (target.state !== "done" && target.state !== "running") {
    throw conflict(`record activity ${recordActivityId} is ${target.state}: it has not sent an e-mail`);
  }
  // A repeated event changes nothing: answer without writing (tracking hits repeat a lot).
  if (event === "clicked" ? target.email_clicked : target.email_opened) return { changed: false };
  const now = Date.now();
  const { results: children } = await e.d1
    .prepare(`SELECT id, "on", delay FROM activities WHERE parent_id = ?`)
    .bind(target.activity_id)
    .all<{ id: number; on: string | null; delay: string | null }>();
  const due: Record<string, number> = {};
  for (const c of children) due[c.id] = shiftBy(now, c.delay);

  const happened = event === "clicked" ? ["email_opened", "email_clicked"] : ["email_opened"];
  const missed = happened.map((on) => on.replace("email_", "email_not_"));
  const edge = { scenarioRecordId: target.scenario_record_id, activityId: target.activity_id, now };
  const [flag] = await e.d1.batch([
    setEmailEventFlag(e.d1, target.id, event, now),
    makeEventChildrenDue(e.d1, { ...edge, due, happened }),
    cancelMissedEventChildren(e.d1, { ...edge, missed }),
  ]);
  const changed = (flag?.meta.changes ?? 0) > 0;
  const dueTimes = children.filter((c) => c.on !== null && happened.includes(c.on)).map((c) => due[c.id] as number);
  if (changed && dueTimes.length > 0) await e.wake([{ shard: target.shard, at: Math.min(...dueTimes) }]);
  return { changed };
}
