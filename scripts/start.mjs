#!/usr/bin/env node
// `npm start`: the service locally, in one command.
// 1. applies the D1 migrations to the local database (.wrangler/state),
// 2. writes .dev.vars with a random ADMIN_TOKEN and TRACKING_SECRET when it has none, and prints the token,
// 3. starts `wrangler dev`,
// 4. drives the cron triggers on their schedule (wrangler dev never fires them by itself),
// 5. keeps a delivery log: a listener on a free 127.0.0.1 port (LOCAL_OUTBOX_URL) to which the local transport posts
//    each message it accepts, appended as one JSON line to .wrangler/outbox.ndjson.
// Environment: PORT (default 8787), PERSIST_TO (default .wrangler/state).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const port = Number(process.env.PORT ?? 8787);
const persistTo = process.env.PERSIST_TO ?? join(root, ".wrangler", "state");
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const CRONS = [
  { cron: "* * * * *", everyMinutes: 1 },
  { cron: "*/5 * * * *", everyMinutes: 5 },
];

function log(message) {
  console.log(`[start] ${message}`);
}

function ensureToken() {
  const file = join(root, ".dev.vars");
  const text = existsSync(file) ? readFileSync(file, "utf8") : "";
  if (!/^TRACKING_SECRET\s*=/m.test(text)) {
    // Tracking keys are signed with it: a local secret, kept across restarts so links sent before keep working.
    const line = `TRACKING_SECRET="${randomBytes(32).toString("hex")}"\n`;
    writeFileSync(file, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${line}`, { mode: 0o600 });
    log("wrote a new TRACKING_SECRET to .dev.vars");
    return ensureToken();
  }
  if (!/^WEBHOOK_SECRET\s*=/m.test(text)) {
    // Webhook payloads are signed: a local secret, so webhook activities work under npm start too.
    const line = `WEBHOOK_SECRET="dev-${randomBytes(16).toString("hex")}"\n`;
    writeFileSync(file, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${line}`, { mode: 0o600 });
    return ensureToken();
  }
  const match = /^ADMIN_TOKEN\s*=\s*"?([^"\n]+)"?\s*$/m.exec(text);
  if (match) return match[1];
  const token = `dev-${randomBytes(24).toString("hex")}`;
  writeFileSync(file, `${text}${text && !text.endsWith("\n") ? "\n" : ""}ADMIN_TOKEN="${token}"\n`, { mode: 0o600 });
  log("wrote a new ADMIN_TOKEN to .dev.vars");
  return token;
}

function migrate() {
  log("applying D1 migrations to the local database");
  const result = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "marketing-automation", "--local", "--persist-to", persistTo],
    { cwd: root, env: { ...env, CI: "true" }, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (result.status !== 0) {
    console.error("[start] the D1 migrations failed; see above");
    process.exit(result.status ?? 1);
  }
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
const token = ensureToken();
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
  Crons:         driven by this script (sweep every minute, enrollment every five minutes)
`);
