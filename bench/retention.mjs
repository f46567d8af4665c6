// Retention in D1's own units: `retention_rows_written_per_email`, the rows written by the retention steps that export
// and remove a send of `emails` e-mails (10 tracked links each, the storage benchmark's template) with their record
// activities, divided by the e-mails removed; and what local D1 bills for `DROP TABLE` of a table of as many rows,
// beside a `DELETE` of all of them (`drop_table_rows_written`, `delete_all_rows_written`). Runs on a fresh database
// of its own, so the sweep removes this send and nothing else.
import { loadParties, log } from "./lib.mjs";
import { benchPost, TEMPLATE } from "./storage.mjs";

export async function benchRetention(api, { emails = 10_000 } = {}) {
  log(`retention: loading ${emails} parties, sending to them`);
  await loadParties(api, { count: emails, prefix: "rt", fields: () => ({ cohort: "retention" }) });
  const scenario = await api("POST", "/scenarios", {
    name: "Retention",
    model: "party",
    domain: [["cohort", "=", "retention"]],
  });
  await api("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Newsletter",
    action: "send_email",
    email_title: "Picks for {{party.name}}",
    email_template: TEMPLATE,
  });
  const send = await benchPost(api.base, `/metered-send?scenario_id=${scenario.id}`);
  if (send.emails !== emails) throw new Error(`sent ${send.emails} e-mails, expected ${emails}`);
  const kept = await api("GET", `/scenarios/${scenario.id}`);
  const t0 = performance.now();
  const r = await benchPost(api.base, "/metered-retention?days=30");
  log(
    `retention: ${r.emails} e-mails, ${r.record_activities} record activities, ${r.hits} hits to ${r.objects} ` +
      `objects in ${r.steps} steps, ${(r.ms / 1000).toFixed(1)} s in the Worker ` +
      `(${((performance.now() - t0) / 1000).toFixed(1)} s here); ${r.rows_written} rows written`,
  );
  for (const [statement, rows] of Object.entries(r.written_by ?? {}).sort((a, b) => b[1] - a[1])) {
    log(`retention:   ${(rows / r.emails).toFixed(2).padStart(6)} rows an e-mail  ${statement}`);
  }
  if (r.emails !== emails || r.record_activities !== emails) {
    throw new Error(`retained ${r.emails} e-mails and ${r.record_activities} record activities, expected ${emails}`);
  }
  const after = await api("GET", `/scenarios/${scenario.id}`);
  if (after.record_count !== kept.record_count) throw new Error("the scenario's count changed with retention");
  const drop = await benchPost(api.base, `/metered-drop-table?rows=${emails}`);
  log(
    `retention: a table of ${drop.rows} rows (one index): DELETE of all wrote ${drop.delete_rows_written} rows, ` +
      `DROP TABLE ${drop.drop_table_rows_written}`,
  );
  return {
    retention_rows_written_per_email: r.rows_written / r.emails,
    retention_rows_read_per_email: r.rows_read / r.emails,
    drop_table_rows_written: drop.drop_table_rows_written,
    delete_all_rows_written: drop.delete_rows_written,
  };
}
