// Storage and reads per e-mail, in D1's own units: `rows_written_per_email` and `d1_bytes_per_email` over a send of
// `emails` e-mails with 10 tracked links each (enrollment, claims, archive, outcomes), and `enroll_pass_rows_read_idle`,
// the rows read by one five-minute enrollment cycle over `idleRecords` enrolled records whose domain has no `now`,
// beside the full pass every cycle used to run. The work runs in one request on the server over a metered D1 binding
// (src/bench/storage.ts), so every statement's meta is counted.
import { loadParties, log, request, until } from "./lib.mjs";

export const TEMPLATE =
  "<html><body><h1>Hello {{party.name}}</h1><p>Your picks this week.</p>" +
  Array.from(
    { length: 10 },
    (_, i) =>
      `<p><a href="https://shop.example/products/${i}?ref={{record.id}}&amp;utm_source=mail">Product ${i}</a></p>`,
  ).join("") +
  '<p><a href="unsubscribe">Unsubscribe</a></p></body></html>';

/** POST to a bench route (a metered send of 10,000 e-mails takes a while: `request` sets no timeout). */
export function benchPost(base, path) {
  return request(base, "POST", `/__bench${path}`);
}

/** The workload's tracking (docs/scaling.md): a fifth of the e-mails opened by a person, 3 in 100 clicked. */
const OPEN_RATE = 0.2;
const CLICK_RATE = 0.03;

export async function benchStorage(api, { emails = 10_000, idleRecords = 100_000, opens = 100, clicks = 15 } = {}) {
  log(`storage: loading ${emails} parties to send to, ${idleRecords} for the idle cycle`);
  await loadParties(api, { count: emails, prefix: "st", fields: () => ({ cohort: "storage" }) });
  await loadParties(api, { count: idleRecords, prefix: "si", fields: () => ({ cohort: "idle" }) });
  const scenario = await api("POST", "/scenarios", {
    name: "Storage",
    model: "party",
    domain: [["cohort", "=", "storage"]],
  });
  await api("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Newsletter",
    action: "send_email",
    email_title: "Picks for {{party.name}}",
    email_template: TEMPLATE,
  });
  const t0 = performance.now();
  const send = await benchPost(api.base, `/metered-send?scenario_id=${scenario.id}`);
  log(
    `storage: ${send.emails} e-mails in ${((performance.now() - t0) / 1000).toFixed(1)} s, ` +
      `${send.rows_written} rows written, ${send.size_after - send.size_before} bytes`,
  );
  for (const [statement, rows] of Object.entries(send.written_by ?? {}).sort((a, b) => b[1] - a[1])) {
    log(`storage:   ${(rows / send.emails).toFixed(2).padStart(6)} rows an e-mail  ${statement}`);
  }
  // Reads: the statements that read most (reads are cheap, but a scan shows here first).
  for (const [statement, rows] of Object.entries(send.read_by ?? {})
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)) {
    log(`storage:   ${(rows / send.emails).toFixed(2).padStart(6)} rows read an e-mail  ${statement}`);
  }
  if (send.emails !== emails) throw new Error(`sent ${send.emails} e-mails, expected ${emails}`);
  // A few hits a request (each waits for its own flush), so no request runs long.
  const tracking = { opens: 0, clicks: 0, open: 0, click: 0, open_by: {}, click_by: {} };
  // A request the local runtime restarts (it does, now and then, after a long one) is made again on e-mails not
  // touched yet, so every open measured is a first one.
  let fresh = opens;
  for (let offset = 0; offset < opens; offset += 20) {
    const n = Math.min(20, opens - offset);
    const path = (from) =>
      `/metered-tracking?scenario_id=${scenario.id}&opens=${n}&clicks=${offset === 0 ? clicks : 0}&offset=${from}`;
    let part;
    for (let attempt = 0; !part; attempt++) {
      part = await benchPost(api.base, path(attempt === 0 ? offset : fresh)).catch((err) => {
        if (attempt >= 3 || !/ 503 /.test(err.message)) throw err;
        log(`storage: ${err.message.slice(0, 80)}; again on e-mails not touched yet`);
        fresh += n;
        return null;
      });
    }
    tracking.open += part.open * part.opens;
    tracking.click += part.click * part.clicks;
    tracking.opens += part.opens;
    tracking.clicks += part.clicks;
    for (const [to, from] of [
      [tracking.open_by, part.open_by],
      [tracking.click_by, part.click_by],
    ]) {
      for (const [statement, rows] of Object.entries(from)) to[statement] = (to[statement] ?? 0) + rows;
    }
  }
  tracking.open /= tracking.opens || 1;
  tracking.click /= tracking.clicks || 1;
  log(
    `storage: a person's open ${tracking.open.toFixed(2)} rows written, a click ${tracking.click.toFixed(2)} ` +
      `(${tracking.opens} opens, ${tracking.clicks} clicks, each hit flushed alone)`,
  );
  for (const [what, by] of [
    ["open", tracking.open_by],
    ["click", tracking.click_by],
  ]) {
    const n = what === "open" ? tracking.opens : tracking.clicks;
    for (const [statement, rows] of Object.entries(by ?? {}).sort((a, b) => b[1] - a[1])) {
      log(`storage:   ${(rows / n).toFixed(2).padStart(6)} rows a ${what}  ${statement}`);
    }
  }

  const idle = await api("POST", "/scenarios", { name: "Idle", model: "party", domain: [["cohort", "=", "idle"]] });
  await api("POST", `/scenarios/${idle.id}/activities`, { name: "Later", delay: "P30D" });
  await api("POST", `/scenarios/${idle.id}/run`);
  await until(async () => !(await api("GET", `/scenarios/${idle.id}/enrollment`)).running, {
    every: 250,
  });
  const enrolled = (await api("GET", `/scenarios/${idle.id}`)).record_count;
  if (enrolled !== idleRecords) throw new Error(`enrolled ${enrolled}, expected ${idleRecords}`);
  // Mid-hour, so no hourly period starts (the domain has no `now` anyway).
  const at = Math.floor(Date.now() / 3_600_000) * 3_600_000 + 32 * 60_000;
  const cycle = await benchPost(api.base, `/metered-enrollment-cycle?at=${at}&full_pass_of=${idle.id}`);
  log(
    `storage: idle cycle ${cycle.rows_read} rows read (${cycle.passes} passes); a full pass ${cycle.full_pass_rows_read}`,
  );
  await api("POST", `/scenarios/${idle.id}/stop`);
  return {
    rows_written_per_email: send.rows_written / send.emails,
    d1_bytes_per_email: (send.size_after - send.size_before) / send.emails,
    d1_rows_read_per_email: send.rows_read / send.emails,
    tracking_rows_written_per_open: tracking.open,
    tracking_rows_written_per_click: tracking.click,
    // The measured open and click at the workload's rates.
    tracking_rows_written_per_email: OPEN_RATE * tracking.open + CLICK_RATE * tracking.click,
    enroll_pass_rows_read_idle: cycle.rows_read,
    enroll_full_pass_rows_read: cycle.full_pass_rows_read,
  };
}
