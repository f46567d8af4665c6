#!/usr/bin/env node
// `npm start`: the service locally, in one command.
// 1. applies the D1 migrations to the local database (.wrangler/state),
// 2. writes .dev.vars with the names of .dev.vars.example (a random ADMIN_TOKEN, TRACKING_SECRET and WEBHOOK_SECRET
//    when it has none), and prints the token,
// 3. starts `wrangler dev`,
// 4. drives the cron triggers on their schedule (wrangler dev never fires them by itself),
// 5. keeps a delivery log: a listener on a free 127.0.0.1 port (LOCAL_OUTBOX_URL) to which the local transport posts
//    each message it accepts, appended as one JSON line to .wrangler/outbox.ndjson.
// Environment: PORT (default 8787), PERSIST_TO (default .wrangler/state), INSPECTOR_PORT (the devtools port: default
// 9229 when it is free, else a free one; scripts/inspector-port.mjs).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { pickInspectorPort } from "./inspector-port.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.PERSIST_TO ?? join(root, ".wrangler", "state");
const base = `http://127.0.0.1:${port}`;
// No banner: wrangler's version is pinned in package.json, so its "update available" line is not for the reader.
const env = {
  ...process.env,
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_HIDE_BANNER: "true",
};
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const CRONS = [
  { cron: "* * * * *", everyMinutes: 1 },
  { cron: "*/5 * * * *", everyMinutes: 5 },
];

function log(message) {
  console.log(`[start] ${message}`);
}

/** `NAME=value` lines of an env file, as [name, value as written], in order. */
function settingsOf(text) {
  return text
    .split("\n")
    .map((line) => /^([A-Z][A-Z0-9_]*)\s*=\s*(.*)$/.exec(line))
    .filter((m) => m !== null)
    .map((m) => [m[1], m[2]]);
}

/** Local secrets made when .dev.vars has none: kept across restarts (links signed before keep working). */
const SECRETS = {
  ADMIN_TOKEN: () => `"dev-${randomBytes(24).toString("hex")}"`,
  TRACKING_SECRET: () => `"${randomBytes(32).toString("hex")}"`,
  WEBHOOK_SECRET: () => `"dev-${randomBytes(16).toString("hex")}"`,
};

/**
 * .dev.vars holds the names .dev.vars.example declares, in its order, first: the secrets (random values made once)
 * and the local settings (the example's values; npm start's own --var values take precedence over them). wrangler
 * dev compares worker-configuration.d.ts, generated from .dev.vars.example (npm run cf-typegen), with the names it
 * finds in .dev.vars: with the same names in the same order the types are up to date, and wrangler says nothing.
 * Names of your own (MAILCHANNELS_API_KEY…) and comments stay, after them. Returns the admin token.
 */
function ensureDevVars() {
  const file = join(root, ".dev.vars");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  const mine = new Map(settingsOf(text));
  const example = settingsOf(readFileSync(join(root, ".dev.vars.example"), "utf8"));
  const names = example.map(([name]) => name);
  const made = [];
  const values = new Map(
    example.map(([name, value]) => {
      if (mine.has(name)) return [name, mine.get(name)];
      made.push(name);
      return [name, SECRETS[name]?.() ?? value];
    }),
  );
  const ordered = settingsOf(text)
    .map(([name]) => name)
    .filter((name) => names.includes(name));
  if (made.length > 0 || ordered.join() !== names.join()) {
    const rest = text
      .split("\n")
      .filter((line) => line.trim() !== "" && !names.includes(/^([A-Z][A-Z0-9_]*)\s*=/.exec(line)?.[1] ?? ""));
    const head = names.map((name) => `${name}=${values.get(name)}`);
    writeFileSync(file, `${[...head, ...rest].join("\n")}\n`, { mode: 0o600 });
    log(made.length > 0 ? `wrote ${made.join(", ")} to .dev.vars` : "put .dev.vars in the order of .dev.vars.example");
  }
  return /^"?([^"]*)"?$/.exec(values.get("ADMIN_TOKEN") ?? "")?.[1] ?? "";
}

/**
 * Applies the migrations not yet applied and says so in one line each (wrangler prints its whole table again after
 * every one); the full output only when they fail.
 */
function migrate() {
  const result = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "marketing-automation", "--local", "--persist-to", persistTo],
    { cwd: root, env: { ...env, CI: "true" }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  if (result.status !== 0) {
    process.stdout.write(result.stdout ?? "");
    process.stderr.write(result.stderr ?? "");
    console.error("[start] the D1 migrations failed; see above");
    process.exit(result.status ?? 1);
  }
  const applied = appliedMigrations(result.stdout ?? "");
  if (applied.length === 0) log("D1 migrations: the local database is up to date");
  for (const name of applied) log(`D1 migration applied: ${name}`);
}

/** The migrations wrangler's output marks applied (its last table), in order. */
function appliedMigrations(output) {
  const names = new Set();
  for (const m of output.matchAll(/^\W*(\d{4}_[\w.-]+\.sql)\s*\W+\u2705/gmu)) names.add(m[1]);
  return [...names];
}

async function waitUntilUp(child) {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited");
    try {
      const res = await fetch(`${base}/api/openapi.json`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`wrangler dev did not answer on ${base}`);
}

/** Fires the crons at the top of each minute, as Cloudflare does (wrangler's /__scheduled endpoint). */
function driveCrons() {
  const fire = async () => {
    const minute = new Date().getUTCMinutes();
    for (const { cron, everyMinutes } of CRONS) {
      if (minute % everyMinutes !== 0) continue;
      try {
        const res = await fetch(`${base}/__scheduled?cron=${encodeURIComponent(cron)}`);
        if (!res.ok) log(`cron "${cron}" answered ${res.status}`);
      } catch (err) {
        log(`cron "${cron}" failed: ${err.message}`);
      }
    }
  };
  const schedule = () => {
    const delay = 60_000 - (Date.now() % 60_000);
    setTimeout(async () => {
      await fire();
      schedule();
    }, delay);
  };
  schedule();
}

/**
 * The delivery log: each message the local transport accepts is posted here before the send is answered, and kept as
 * one JSON line (`email_id`, `to`, `subject`, `message_id`, `provider_id`, `received_at`) in .wrangler/outbox.ndjson.
 */
async function startOutbox() {
  const file = join(root, ".wrangler", "outbox.ndjson");
  mkdirSync(dirname(file), { recursive: true });
  const server = http.createServer((req, res) => {
    if (req.method !== "POST") return res.writeHead(405).end();
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        const message = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        appendFileSync(file, `${JSON.stringify({ ...message, received_at: new Date().toISOString() })}\n`);
        res.writeHead(204).end();
      } catch (err) {
        log(`outbox: refused a message: ${err.message}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  return { url: `http://127.0.0.1:${server.address().port}/outbox`, file };
}

const outbox = await startOutbox();
const localVars = [
  "LOCAL_MODE:1",
  "MAIL_TRANSPORT:local",
  "EMAIL_FROM:Marketing <marketing@example.com>",
  `AUTOMATION_BASE:http://localhost:${port}`,
  `WEB_HOSTNAME:localhost:${port}`,
  `LOCAL_OUTBOX_URL:${outbox.url}`,
];
const token = ensureDevVars();
let inspector;
try {
  inspector = await pickInspectorPort();
} catch (err) {
  console.error(`[start] ${err.message}`);
  process.exit(1);
}
if (inspector.note) log(inspector.note);
migrate();
log(`starting wrangler dev on ${base}`);
const child = spawn(
  wrangler,
  [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--persist-to",
    persistTo,
    "--inspector-port",
    String(inspector.port),
    "--test-scheduled",
    "--show-interactive-dev-session=false",
    // Local values of the settings wrangler.toml leaves to the deployer; LOCAL_MODE allows them.
    ...localVars.flatMap((v) => ["--var", v]),
  ],
  { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] },
);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    child.kill("SIGTERM");
    process.exit(0);
  });
}
child.on("exit", (code) => {
  log(`wrangler dev exited (${code})`);
  process.exit(code ?? 1);
});

try {
  await waitUntilUp(child);
} catch (err) {
  console.error(`[start] ${err.message}`);
  child.kill("SIGTERM");
  process.exit(1);
}
driveCrons();
console.log(`
  Marketing automation is running on http://localhost:${port}
  Admin token:   ${token}
  Try:           curl -H "Authorization: Bearer ${token}" http://localhost:${port}/api/models
  API docs:      http://localhost:${port}/api/docs
  Console:       http://localhost:${port}/console (sign in with the admin token)
  Sent e-mails:  the local transport keeps them: GET /api/emails (and /api/emails/{id}/raw)
  Outbox:        each delivered e-mail, one JSON line, in ${outbox.file} (listener ${outbox.url})
  Devtools:      inspector on 127.0.0.1:${inspector.port} (INSPECTOR_PORT chooses it)
  Crons:         driven by this script (sweep every minute, enrollment every five minutes)
`);
