#!/usr/bin/env node
// `npm run bench`: every benchmark of the project against a local `wrangler dev` it starts and stops itself.
// Writes bench/results.json and prints a table; each figure beside its baseline measured in the same run.
// Options: --only=records,enroll,… to run some; --quick for smaller sizes while developing.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchEnroll } from "./enroll.mjs";
import { client, root, round, startServer } from "./lib.mjs";
import { benchRecords } from "./records.mjs";

const args = new Map(
  process.argv
    .slice(2)
    .map((a) => a.replace(/^--/, "").split("="))
    .map(([k, v]) => [k, v ?? "1"]),
);
const quick = args.has("quick");
const only = args.get("only")?.split(",");
const want = (name) => !only || only.includes(name);

const server = await startServer();
const api = client(server.base);
const results = {};
try {
  if (want("records"))
    Object.assign(results, await benchRecords(api, quick ? { batchRecords: 5_000, singleRecords: 100 } : {}));
  if (want("enroll")) Object.assign(results, await benchEnroll(api, quick ? { small: 10_000, large: 100_000 } : {}));
} finally {
  await server.stop();
}

const rounded = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, round(v, 3)]));
if (!quick && !only) writeFileSync(join(root, "bench", "results.json"), `${JSON.stringify(rounded, null, 2)}\n`);
console.table(rounded);
