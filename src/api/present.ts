import { openTracking } from "../email/rewrite";
import type { Model } from "../engine/records/models";
import type { RecordRow } from "../engine/records/records";
import type { RecordActivityRow, ScenarioRecordRow } from "../engine/runs/runs";
import type { Activity } from "../engine/scenarios/activities";
import type { Scenario } from "../engine/scenarios/scenarios";
import { idString, iso } from "../ids";

/** Maps engine rows to the API's snake_case JSON. */

export const presentModel = (m: Model) => ({
  name: m.name,
  party_field: m.partyField,
  built_in: m.name === "party" || m.name === "sale",
});

export const presentRecord = (r: RecordRow) => ({
  model: r.model,
  id: r.id,
  fields: r.fields,
  created_at: iso(r.createdAt) as string,
  updated_at: iso(r.updatedAt) as string,
});

export const presentScenario = (s: Scenario) => ({
  id: String(s.id),
  name: s.name,
  model: s.model,
  domain: s.domain,
  unsubscribable: s.unsubscribable,
  send_window: s.sendWindow,
  time_zone: s.timeZone,
  frequency_cap: s.frequencyCap,
  topics: s.topics,
  double_opt_in: s.doubleOptIn,
  goal: s.goal,
  state: s.state,
  record_count: s.recordCount,
  record_count_blocked: s.recordCountBlocked,
  block_rate: s.blockRate,
  record_count_confirmed: s.recordCountConfirmed,
  created_at: iso(s.createdAt) as string,
  updated_at: iso(s.updatedAt) as string,
});

export const presentActivity = (a: Activity) => ({
  id: String(a.id),
  scenario_id: String(a.scenarioId),
  parent_id: idString(a.parentId),
  name: a.name,
  on: a.on,
  condition: a.condition,
  delay: a.delay,
  action: a.action,
  email_from: a.emailFrom,
  email_title: a.emailTitle,
  email_template: a.emailTemplate,
  email_translations: a.emailTranslations,
  send_window: a.sendWindow,
  settings: a.settings,
  open_tracking: a.action === "send_email" ? openTracking(a) : null,
  weight: a.weight,
  split_share: a.splitShare,
  record_count: a.recordCount,
  waiting_count: a.countWaiting,
  cancelled_count: a.countCancelled,
  failed_count: a.countFailed,
  email_opened: a.emailOpened,
  email_clicked: a.emailClicked,
  email_open_rate: a.emailOpenRate,
  email_click_rate: a.emailClickRate,
  email_click_through_rate: a.emailClickThroughRate,
  conversions: a.conversions,
  created_at: iso(a.createdAt) as string,
  updated_at: iso(a.updatedAt) as string,
});

export const presentScenarioRecord = (r: ScenarioRecordRow) => ({
  id: String(r.id),
  scenario_id: String(r.scenarioId),
  model: r.model,
  record_id: r.recordId,
  party_id: r.partyId,
  blocked: r.blocked,
  goal_reached_at: iso(r.goalReachedAt),
  goal_activity_id: idString(r.goalActivityId),
  created_at: iso(r.createdAt) as string,
});

export const presentRecordActivity = (r: RecordActivityRow) => ({
  id: String(r.id),
  scenario_record_id: String(r.scenarioRecordId),
  activity_id: String(r.activityId),
  state: r.state,
  at: iso(r.at),
  due_at: iso(r.dueAt),
  email_opened: r.emailOpened,
  email_clicked: r.emailClicked,
  reason: r.reason,
  attempts: r.attempts,
});

/** A page of a list as the API gives it: its items presented, and the cursor of the next page (a string, or null). */
export const presentPage = <T, R>(
  page: { items: T[]; nextCursor: number | string | null },
  present: (row: T) => R,
) => ({
  items: page.items.map(present),
  next_cursor: page.nextCursor === null ? null : String(page.nextCursor),
});
