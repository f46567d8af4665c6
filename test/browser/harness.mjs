// Node side of the browser tests: a local `wrangler dev` on a fresh database, Debian's Chromium driven by
// playwright-core, an API client. Kept in plain JavaScript (typed by harness.d.mts) because the project's TypeScript
// program is typed for workerd, not Node.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const root = new URL("../..", import.meta.url).pathname;
export const TOKEN = "browser-admin-token";
export const CHROMIUM = "/usr/bin/chromium";
/** A desktop Chrome: the tracking classifier treats "HeadlessChrome" as a machine. */
export const USER_AGENT =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/136.0.0.0 Safari/537.36";

const CF_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true" };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `wrangler dev` on a fresh local database (migrated first); returns its base URL and a stop function. */
export async function startServer() {
  const state = mkdtempSync(join(tmpdir(), "ma-browser-"));
  const env = { ...process.env, ...CF_ENV };
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  const persist = ["--persist-to", state];
  const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "marketing-automation", "--local", ...persist], {
    cwd: root,
    env,
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed: ${migrate.stderr}`);
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const base = `http://127.0.0.1:${port}`;
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort)];
  const vars = [
    `ADMIN_TOKEN:${TOKEN}`,
    "TRACKING_SECRET:browser-test-tracking-secret-0123456789",
    `AUTOMATION_BASE:${base}`,
    "MAIL_TRANSPORT:local",
    "LOCAL_MODE:1",
    "EMAIL_FROM:Marketing <marketing@example.com>",
    "BENCH_ROUTES:0",
  ];
  const child = spawn(
    wrangler,
    [
      ...args,
      ...persist,
      "--show-interactive-dev-session=false",
      "--log-level",
      "warn",
      ...vars.flatMap((v) => ["--var", v]),
    ],
    { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (chunk) => {
    output = (output + chunk).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5_000)]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(state, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null || i > 300) {
      await stop();
      throw new Error(`wrangler dev did not start:\n${output}`);
    }
    try {
      if ((await fetch(`${base}/api/openapi.json`)).ok) break;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  return { base, pid: child.pid, stop, output: () => output };
}

/** An admin API client with the test token; throws on any status >= 300. */
export function apiClient(base) {
  return async function api(method, path, body) {
    const res = await fetch(`${base}/api${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  };
}

/** Polls until `probe` returns a truthy value, which is returned. */
export async function until(probe, { every = 200, timeoutMs = 30_000, what = "a condition" } = {}) {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

/**
 * Debian's Chromium in a new empty profile, headless, with a desktop user agent (`bypassCSP` lets a test inject a
 * script, such as axe-core, into pages whose Content-Security-Policy forbids it). The background-networking flags keep
 * it from calling home: this machine's network refuses those connections.
 */
export async function openBrowser({ viewport = { width: 1280, height: 900 }, bypassCSP = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "ma-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    userAgent: USER_AGENT,
    viewport,
    // Only the accessibility check sets it: it injects axe-core into pages whose policy allows no script.
    bypassCSP,
    locale: "en-US",
    timezoneId: "UTC",
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where a screenshot of the console goes: docs/screenshots/<name>.png. */
export function screenshotPath(name) {
  const dir = join(root, "docs", "screenshots");
  mkdirSync(dir, { recursive: true });
  return join(dir, `${name}.png`);
}
