// Execution and scheduling: `count` record activities due at the same instant, executed by the Durable Object alarms
// with no API call. E-mails per second from the due time to the last execution, and each one's lag (execution - due).
import { loadParties, log, percentile, sleep, until } from "./lib.mjs";

const TEMPLATE =
  "<html><body><h1>Hello {{party.name}}</h1><p>Your picks this week.</p>" +
  Array.from(
    { length: 10 },
    (_, i) => `<p><a href="https://shop.example/p/${i}?r={{record.id}}">Product ${i}</a></p>`,
  ).join("") +
  '<p><a href="unsubscribe">Unsubscribe</a></p></body></html>';

async function allRecordActivities(api, scenarioId, activityId) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(
      "GET",
      `/scenarios/${scenarioId}/record-activities?activity_id=${activityId}&limit=500${cursor ? `&cursor=${cursor}` : ""}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

/**
 * Enrolls `count` parties in a scenario whose root activity is due `delaySeconds` after enrollment, waits until all are
 * executed, and returns the throughput from the (common) due time and the lag of each. `scenario` adds fields to the
 * scenario (a send window, a cap), `fields` to every party.
 */
export async function dueTogether(api, { name, count, action, delaySeconds = 20, scenario: extra = {}, fields = {} }) {
  const prefix = `${name.toLowerCase().replace(/\W/g, "")}-`;
  await loadParties(api, { count, prefix, fields: () => ({ cohort: name, ...fields }) });
  const scenario = await api("POST", "/scenarios", { name, model: "party", domain: [["cohort", "=", name]], ...extra });
  const activity = await api("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Root",
    delay: `PT${delaySeconds}S`,
    ...(action ? { action: "send_email", email_title: "Picks for {{party.name}}", email_template: TEMPLATE } : {}),
  });
  await api("POST", `/scenarios/${scenario.id}/run`);
  await until(async () => (await api("GET", `/scenarios/${scenario.id}`)).record_count >= count, {
    every: 200,
  });
  log(`${name}: ${count} enrolled, due in ${delaySeconds} s`);
  await sleep(delaySeconds * 1000);
  await until(async () => (await api("GET", `/activities/${activity.id}`)).record_count >= count, {
    every: 250,
    timeoutMs: 900_000,
  });
  // Stopped, so later benchmarks do not enroll their records into it.
  await api("POST", `/scenarios/${scenario.id}/stop`);
  const ras = await allRecordActivities(api, scenario.id, activity.id);
  const due = ras.map((r) => Date.parse(r.due_at));
  const done = ras.map((r) => Date.parse(r.at));
  const lags = ras.map((r) => (Date.parse(r.at) - Date.parse(r.due_at)) / 1000);
  const seconds = (Math.max(...done) - Math.min(...due)) / 1000;
  const dueSpread = (Math.max(...due) - Math.min(...due)) / 1000;
  log(`${name}: executed in ${seconds.toFixed(2)} s (due times spread over ${dueSpread.toFixed(2)} s)`);
  return { scenarioId: scenario.id, activityId: activity.id, perSecond: count / Math.max(seconds, 0.001), lags };
}

export async function benchExecute(api, { count = 10_000 } = {}) {
  const baseline = await dueTogether(api, { name: "Execute baseline", count, action: false });
  const emails = await dueTogether(api, { name: "Execute emails", count, action: true });
  return {
    execute_emails_per_s: emails.perSecond,
    execute_noop_activities_per_s: baseline.perSecond,
    execute_emails_over_noop_ratio: emails.perSecond / baseline.perSecond,
  };
}

export async function benchLag(api, { count = 1_000 } = {}) {
  const run = await dueTogether(api, { name: "Lag", count, action: true, delaySeconds: 15 });
  return {
    scheduler_lag_p50_s: percentile(run.lags, 50),
    scheduler_lag_p99_s: percentile(run.lags, 99),
    scheduler_lag_max_s: Math.max(...run.lags),
    lagScenarioId: run.scenarioId,
  };
}
