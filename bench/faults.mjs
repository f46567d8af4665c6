#!/usr/bin/env node
// Crash safety of sending: a scenario sends an e-mail to each of `parties` parties and a reminder a minute later
// (email_not_opened, PT1M) under SEND_RATE_PER_SECOND, while wrangler dev and its workerd are killed with SIGKILL
// `kills` times and started again on the same local state. The local transport hands every message it accepts to a
// listener in this process (LOCAL_OUTBOX_URL) before answering, so the listener sees exactly what a provider would
// have delivered. Reported from that outbox: e-mails lost (never delivered), duplicated (delivered more than once),
// the largest lateness against when each was due, and the time from the last restart to the last expected delivery.
//
// Alone: `npm run bench:faults` (flags below); in `npm run bench` as `faults` (`--only=faults`). The crons are driven
// as Cloudflare would (the minute sweep through /cdn-cgi/handler/scheduled), since recovering lost work is its job.
//
// Flags: --parties=N (default 1000), --rate=R (SEND_RATE_PER_SECOND, default 40), --kills=K (default 3),
// --settle=S (seconds allowed after the last restart, default 480), --quota=0,0.3 (LOCAL_TRANSPORT_429_RATE of each
// run, default both), --port=P (default 8798).
import { rmSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { client, loadParties, log, root, round, sleep, startServer } from "./lib.mjs";

const MINUTE_CRONS = [
  { cron: "* * * * *", everyMinutes: 1 },
  { cron: "*/5 * * * *", everyMinutes: 5 },
];

/** The delivery log: a listener on a free 127.0.0.1 port recording each posted message with the time it arrived. */
async function outboxListener() {
  const deliveries = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        deliveries.push({ ...JSON.parse(Buffer.concat(chunks).toString("utf8")), received: Date.now() });
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${server.address().port}/outbox`,
    deliveries,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** Drives the crons as Cloudflare does, at the top of each minute, and keeps local workerd serving (a kick a second). */
function driveServer(getBase) {
  let stopped = false;
  const kicker = setInterval(() => {
    fetch(`${getBase()}/__bench/redirect`, { redirect: "manual" }).catch(() => {});
  }, 1000);
  let timer;
  const schedule = () => {
    timer = setTimeout(
      async () => {
        const minute = new Date().getUTCMinutes();
        for (const { cron, everyMinutes } of MINUTE_CRONS) {
          if (stopped || minute % everyMinutes !== 0) continue;
          try {
            const res = await fetch(`${getBase()}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent(cron)}`, {
              signal: AbortSignal.timeout(50_000),
            });
            await res.body?.cancel();
            if (!res.ok) log(`faults: cron "${cron}" answered ${res.status}`);
          } catch (err) {
            log(`faults: cron "${cron}" failed: ${err.message}`);
          }
        }
        if (!stopped) schedule();
      },
      60_000 - (Date.now() % 60_000),
    );
  };
  schedule();
  return () => {
    stopped = true;
    clearInterval(kicker);
    clearTimeout(timer);
  };
}

async function pages(api, path) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < 1000; i++) {
    const page = await api(
      "GET",
      `${path}${path.includes("?") ? "&" : "?"}limit=500${cursor ? `&cursor=${cursor}` : ""}`,
    );
    items.push(...page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

/**
 * One run: `parties` parties, a root e-mail and its reminder each, `kills` crashes while sending. `quota`: the share
 * of sends the local transport answers 429. Returns the figures named `${prefix}_…`.
 */
export async function benchFaults({
  parties = 1000,
  rate = 40,
  kills = 3,
  quota = 0,
  settleS = 480,
  port = 8798,
  prefix = quota > 0 ? "faults_429" : "faults",
} = {}) {
  const name = `Faults ${quota}`;
  const cohort = `faults-${String(quota).replace(/\W/g, "")}-${Date.now()}`;
  const expected = 2 * parties;
  const outbox = await outboxListener();
  const persistTo = join(root, "bench", ".runs", cohort);
  const vars = { SEND_RATE_PER_SECOND: rate, LOCAL_TRANSPORT_429_RATE: quota, LOCAL_OUTBOX_URL: outbox.url };
  const boot = () => startServer({ port, persistTo, keep: true, vars });
  let server = await boot();
  const api = client(server.base);
  const stopDriving = driveServer(() => server.base);
  /** First delivery of each expected e-mail, by identity: the recipient and which of the two e-mails it is. */
  const first = new Map();
  let seen = 0;
  const identity = (d) => `${d.to} ${d.subject.startsWith("Reminder") ? "reminder" : "root"}`;
  const distinct = () => {
    for (; seen < outbox.deliveries.length; seen++) {
      const d = outbox.deliveries[seen];
      if (!first.has(identity(d))) first.set(identity(d), d);
    }
    return first.size;
  };
  const restarts = [];
  try {
    await loadParties(api, { count: parties, prefix: `${cohort}-`, fields: () => ({ cohort }) });
    const scenario = await api("POST", "/scenarios", { name, model: "party", domain: [["cohort", "=", cohort]] });
    const mail = await api("POST", `/scenarios/${scenario.id}/activities`, {
      name: "Welcome",
      action: "send_email",
      email_title: "Welcome {{party.name}}",
      email_template: '<p>Hello {{party.name}}</p><p><a href="https://shop.example/">Shop</a></p>',
    });
    await api("POST", `/scenarios/${scenario.id}/activities`, {
      name: "Reminder",
      parent_id: mail.id,
      on: "email_not_opened",
      delay: "PT1M",
      action: "send_email",
      email_title: "Reminder for {{party.name}}",
      email_template: "<p>Still there, {{party.name}}?</p>",
    });
    const runAt = Date.now();
    const at = () => ((Date.now() - runAt) / 1000).toFixed(1);
    await api("POST", `/scenarios/${scenario.id}/run`);
    log(`faults (429 share ${quota}): ${parties} parties enrolling, ${expected} e-mails expected at ${rate}/s`);

    // The crashes, spread over the sending: at a quarter, half and three quarters of the expected e-mails (for 3).
    for (let k = 1; k <= kills; k++) {
      const target = Math.floor((expected * k) / (kills + 1));
      // …and only while e-mails are going out (one delivered in the last 2 s), at most 150 s after the last restart.
      const since = restarts[restarts.length - 1] ?? Date.now();
      const sending = () => Date.now() - (outbox.deliveries[outbox.deliveries.length - 1]?.received ?? 0) < 2_000;
      while ((distinct() < target || !sending()) && Date.now() - since < 150_000) await sleep(100);
      while (Date.now() - since < 10_000) await sleep(250);
      const before = outbox.deliveries.length;
      const pids = await server.crash();
      log(
        `faults: crash ${k}/${kills} at ${at()} s, at ${distinct()}/${expected} delivered (${before} deliveries): SIGKILL to ${pids.join(", ")}`,
      );
      server = await boot();
      restarts.push(Date.now());
      log(`faults: restarted at ${at()} s`);
    }

    // Settling: every expected e-mail delivered, or the time allowed is over.
    const lastRestart = restarts[restarts.length - 1] ?? runAt;
    let lastLog = Date.now();
    while (distinct() < expected && Date.now() - lastRestart < settleS * 1000) {
      await sleep(500);
      if (Date.now() - lastLog > 30_000) {
        lastLog = Date.now();
        log(`faults: ${at()} s: ${distinct()}/${expected} delivered, ${outbox.deliveries.length} deliveries`);
      }
    }
    distinct();
    const settled = first.size >= expected;
    await sleep(3_000); // late duplicates of the last sends

    // Due times: a root e-mail at its record activity's due time (the enrollment), a reminder a minute after the
    // recipient got the root e-mail.
    const records = await pages(api, `/scenarios/${scenario.id}/records`);
    const addressOf = new Map(records.map((r) => [r.id, `${r.record_id}@example.com`]));
    const roots = await pages(api, `/scenarios/${scenario.id}/record-activities?activity_id=${mail.id}`);
    const rootDue = new Map(roots.map((ra) => [addressOf.get(ra.scenario_record_id), Date.parse(ra.due_at)]));
    let overdueMax = 0;
    let lastExpected = 0;
    for (const [key, d] of first) {
      const [to, kind] = key.split(" ");
      const due = kind === "root" ? rootDue.get(to) : (first.get(`${to} root`)?.received ?? Number.NaN) + 60_000;
      if (Number.isFinite(due)) overdueMax = Math.max(overdueMax, (d.received - due) / 1000);
      lastExpected = Math.max(lastExpected, d.received);
    }
    const failed = (await pages(api, `/scenarios/${scenario.id}/record-activities?state=failed`)).length;
    const figures = {
      expected,
      delivered_distinct: first.size,
      lost: expected - first.size,
      duplicated: outbox.deliveries.length - first.size,
      overdue_max_s: overdueMax,
      settle_s: settled ? (lastExpected - lastRestart) / 1000 : Number.NaN,
      failed_record_activities: failed,
    };
    log(
      `faults (429 share ${quota}): ${first.size}/${expected} delivered, ${figures.lost} lost, ${figures.duplicated} ` +
        `duplicated, overdue up to ${overdueMax.toFixed(1)} s, ${settled ? `settled ${figures.settle_s.toFixed(1)} s after the last restart` : `not settled within ${settleS} s`}`,
    );
    await api("POST", `/scenarios/${scenario.id}/stop`).catch(() => {});
    return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`${prefix}_${k}`, v]));
  } finally {
    stopDriving();
    await server.stop();
    await outbox.close();
    if (process.env.BENCH_KEEP !== "1") rmSync(persistTo, { recursive: true, force: true });
  }
}

/** The runs of the fault benchmark: one per 429 share (0, then 0.3 by default). */
export async function benchFaultRuns({ quotas = [0, 0.3], ...options } = {}) {
  const results = {};
  for (const quota of quotas) Object.assign(results, await benchFaults({ ...options, quota }));
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = new Map(
    process.argv
      .slice(2)
      .map((a) => a.replace(/^--/, "").split("="))
      .map(([k, v]) => [k, v ?? "1"]),
  );
  const num = (k) => (args.has(k) ? Number(args.get(k)) : undefined);
  const options = Object.fromEntries(
    Object.entries({
      parties: num("parties"),
      rate: num("rate"),
      kills: num("kills"),
      settleS: num("settle"),
      port: num("port"),
      quotas: args.get("quota")?.split(",").map(Number),
    }).filter(([, v]) => v !== undefined),
  );
  const started = performance.now();
  const results = await benchFaultRuns(options);
  log(`faults: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  console.table(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v, 3)])));
}
