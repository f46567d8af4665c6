#!/usr/bin/env node
// `npm run bench`: every benchmark of the project against a local `wrangler dev` it starts and stops itself, on a
// fresh local database. Writes bench/results.json and prints a table; each figure sits beside its baseline measured
// in the same run. Options: --only=render,records,execute,recipients,lag,redirect,load,storage,enroll,bounces,throttle,
// retention,faults to run some; --quick for smaller sizes while developing (results.json is only written by a full run).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchBounces, benchThrottle } from "./deliverability.mjs";
import { benchEnroll } from "./enroll.mjs";
import { benchExecute, benchLag } from "./execute.mjs";
import { benchFaultRuns } from "./faults.mjs";
import { client, log, root, round, startServer } from "./lib.mjs";
import { benchLoad, tracking } from "./load.mjs";
import { benchRecipients } from "./recipients.mjs";
import { benchRecords } from "./records.mjs";
import { benchRedirect, clickKey } from "./redirect.mjs";
import { benchRender } from "./render.mjs";
import { benchRetention } from "./retention.mjs";
import { benchStorage } from "./storage.mjs";

const args = new Map(
  process.argv
    .slice(2)
    .map((a) => a.replace(/^--/, "").split("="))
    .map(([k, v]) => [k, v ?? "1"]),
);
const quick = args.has("quick");
const only = args.get("only")?.split(",");
const want = (name) => !only || only.includes(name);

/** The original Tryton module measured on this kind of machine (SQLite), for scale; see the README. */
const TRYTON = { enroll_records_per_s: 440, execute_emails_per_s: 24, redirect_rps: 64, cron_interval_s: 900 };

const server = await startServer();
const api = client(server.base);
const results = {};
const started = performance.now();
try {
  if (want("render")) Object.assign(results, await benchRender(server.base, quick ? { n: 200 } : {}));
  if (want("records")) {
    Object.assign(results, await benchRecords(api, quick ? { batchRecords: 5_000, singleRecords: 100 } : {}));
  }
  if (want("execute")) Object.assign(results, await benchExecute(api, quick ? { count: 1_000 } : {}));
  if (want("recipients")) Object.assign(results, await benchRecipients(api, quick ? { count: 1_000 } : {}));
  let lagScenario = null;
  if (want("lag") || want("redirect") || want("load")) {
    const { lagScenarioId, ...lag } = await benchLag(api, quick ? { count: 200 } : {});
    if (want("lag")) Object.assign(results, lag);
    lagScenario = lagScenarioId;
  }
  if (want("redirect")) {
    const key = await clickKey(api, lagScenario);
    Object.assign(results, await benchRedirect(server.base, key, quick ? { duration: 3 } : {}));
  }
  if (want("load")) {
    Object.assign(results, await benchLoad(server, await tracking(api, lagScenario), quick ? { seconds: 5 } : {}));
  }
  if (want("storage")) {
    Object.assign(
      results,
      await benchStorage(api, quick ? { emails: 2_000, idleRecords: 20_000, opens: 30, clicks: 5 } : {}),
    );
  }
  if (want("enroll")) Object.assign(results, await benchEnroll(api, quick ? { small: 10_000, large: 100_000 } : {}));
  if (want("bounces")) Object.assign(results, await benchBounces(api, quick ? { emails: 200, events: 5_000 } : {}));
} finally {
  await server.stop();
}
// The throttle needs its own server: a send rate, and a local transport that answers 429 to a fifth of the sends.
if (want("throttle")) {
  const rate = 40;
  const throttled = await startServer({ vars: { SEND_RATE_PER_SECOND: rate, LOCAL_TRANSPORT_429_RATE: 0.2 } });
  try {
    Object.assign(results, await benchThrottle(client(throttled.base), { rate, count: quick ? 400 : 1_200 }));
  } finally {
    await throttled.stop();
  }
}

// Retention on a database of its own: the sweep removes everything old enough, so only this send may be in it.
if (want("retention")) {
  const fresh = await startServer();
  try {
    Object.assign(results, await benchRetention(client(fresh.base), quick ? { emails: 2_000 } : {}));
  } finally {
    await fresh.stop();
  }
}

// Crashes while sending: servers of its own, killed and started again on their state (bench/faults.mjs); one run with
// a transport that accepts everything, one with a transport answering 429 to 30 % of the sends (faults_429_…).
if (want("faults")) {
  Object.assign(results, await benchFaultRuns(quick ? { parties: 200 } : {}));
}

const rounded = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v, 3)]));
const report = {
  ...rounded,
  tryton_reference: TRYTON,
  machine: { cores: (await import("node:os")).cpus().length, node: process.version },
  duration_s: round((performance.now() - started) / 1000, 1),
  measured_at: new Date().toISOString(),
};
if (!quick && !only) writeFileSync(join(root, "bench", "results.json"), `${JSON.stringify(report, null, 2)}\n`);
log(`done in ${report.duration_s} s`);
console.table(rounded);
