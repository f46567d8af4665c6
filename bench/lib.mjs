// Shared helpers of the benchmarks: a local `wrangler dev` they start and stop, an API client, statistics.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";

export const root = new URL("..", import.meta.url).pathname;
export const TOKEN = "bench-admin-token";

export function log(message) {
  process.stderr.write(`[bench] ${message}\n`);
}

/**
 * Starts wrangler dev on a fresh local database (with extra `vars`); returns { base, stop, crash }. Given the
 * `persistTo` of an earlier server (and `keep`), it starts on that server's state instead: migrations already applied
 * are skipped.
 */
export async function startServer({
  port = Number(process.env.BENCH_PORT ?? 8799),
  persistTo = join(root, "bench", ".runs", String(Date.now())),
  keep = process.env.BENCH_KEEP === "1",
  vars = {},
} = {}) {
  mkdirSync(persistTo, { recursive: true });
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true" };
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  const migrate = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "marketing-automation", "--local", "--persist-to", persistTo],
    {
      cwd: root,
      env,
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  if (migrate.status !== 0) throw new Error("migrations failed");
  const base = `http://127.0.0.1:${port}`;
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
      "--show-interactive-dev-session=false",
      "--log-level",
      process.env.BENCH_LOG ?? "warn",
      "--var",
      `ADMIN_TOKEN:${TOKEN}`,
      "--var",
      "TRACKING_SECRET:bench-tracking-secret-0123456789abcdef0123",
      "--var",
      "BENCH_ROUTES:1",
      "--var",
      `AUTOMATION_BASE:${base}`,
      "--var",
      "MAIL_TRANSPORT:local",
      "--var",
      "LOCAL_MODE:1",
      "--var",
      "EMAIL_FROM:Marketing <marketing@example.com>",
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
    ],
    { cwd: root, env, stdio: ["ignore", process.env.BENCH_LOG ? "inherit" : "ignore", "inherit"], detached: false },
  );
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error("wrangler dev exited");
    try {
      if ((await fetch(`${base}/api/openapi.json`)).ok) break;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  log(`wrangler dev up on ${base} (pid ${child.pid}), state in ${persistTo}`);
  return {
    base,
    /** Runs a read-only SQL query on the server's local D1 database (wrangler d1 execute). */
    sql(query) {
      const out = spawnSync(
        wrangler,
        ["d1", "execute", "marketing-automation", "--local", "--persist-to", persistTo, "--json", "--command", query],
        { cwd: root, env, encoding: "utf8" },
      );
      if (out.status !== 0) throw new Error(`d1 execute failed: ${out.stderr}`);
      return JSON.parse(out.stdout)[0].results;
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      if (!keep) rmSync(persistTo, { recursive: true, force: true });
    },
    /**
     * A crash: SIGKILL to wrangler and every process it started (workerd), each by its pid, with no chance to finish
     * what it was doing. The local state stays, for a server started again on it. Resolves once wrangler is gone.
     */
    async crash() {
      const pids = [child.pid, ...descendants(child.pid)];
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once("exit", r));
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await exited;
      for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
      return pids;
    },
  };
}

/** The pids of the processes below `pid` (children, their children…), read from /proc (Linux). */
export function descendants(pid) {
  const children = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  const found = [];
  const queue = [pid];
  while (queue.length > 0 && found.length < 1000) {
    for (const c of children.get(queue.shift()) ?? []) {
      found.push(c);
      queue.push(c);
    }
  }
  return found;
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The admin API over a new connection per call. Under `wrangler dev`, a response whose Worker still has `waitUntil`
 * work (enrollment after `run`, say) can keep its kept-alive connection busy, and a pooled client would queue the next
 * call behind it; production does not behave like that, so the benchmarks must not measure it.
 */
export function client(base) {
  api.base = base;
  return api;
  /**
   * Local workerd resets an isolate that outgrew its memory (after a metered send of 10,000 e-mails in one request,
   * say), failing the request that was running with a 503: such a call is tried again once the isolate is back.
   */
  async function api(method, path, body) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request(base, method, `/api${path}`, body);
      } catch (err) {
        if (attempt >= 3 || !/: 503 Your worker restarted mid-request/.test(String(err))) throw err;
        log(`${method} ${path}: the local isolate restarted; trying again`);
        await sleep(2_000);
      }
    }
  }
}

/**
 * One call to the server at `base` (the admin API or a bench route) over a new connection (see `client`), with the
 * admin token and no timeout: the JSON answer, or an error naming the call and its status. While it is outstanding a
 * cheap request goes to the server each second: local workerd can leave a request that arrived as a long one
 * finished unserved until the next request comes in (a local-runtime artifact; `npm start`'s cron driver kicks it each
 * minute). Without the kick a benchmark would time that, or wait indefinitely, not the service.
 */
export function request(base, method, path, body) {
  const kicker = setInterval(() => {
    fetch(`${base}/__bench/redirect`, { redirect: "manual" }).catch(() => {});
  }, 1000);
  return requestOnce(base, method, path, body).finally(() => clearInterval(kicker));
}

function requestOnce(base, method, path, body) {
  const { hostname, port } = new URL(base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        hostname,
        port,
        path,
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          "content-type": "application/json",
          ...(payload ? { "content-length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 300)}`));
          else resolve(text ? JSON.parse(text) : null);
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (payload) req.write(payload);
    req.end();
  });
}

/** Upserts `count` party records in batches of 1,000 with a few calls in flight. */
export async function loadParties(api, { count, prefix, fields = () => ({}), concurrency = 3 }) {
  const batches = Math.ceil(count / 1000);
  let next = 0;
  async function worker() {
    while (next < batches) {
      const b = next++;
      const records = [];
      for (let i = b * 1000; i < Math.min(count, (b + 1) * 1000); i++) {
        records.push({ id: `${prefix}${i}`, name: `Party ${i}`, email: `${prefix}${i}@example.com`, ...fields(i) });
      }
      await api("POST", "/records/party/batch", { records });
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Polls `probe` until it returns a truthy value; returns the time it did (ms, performance.now()). */
export async function until(probe, { every = 100, timeoutMs = 600_000 } = {}) {
  const start = performance.now();
  for (;;) {
    const asked = performance.now();
    const value = await probe();
    if (process.env.BENCH_DEBUG)
      log(
        `probe at ${((asked - start) / 1000).toFixed(1)} s took ${((performance.now() - asked) / 1000).toFixed(2)} s`,
      );
    if (value) return performance.now();
    if (performance.now() - start > timeoutMs) throw new Error("timed out waiting");
    await sleep(every);
  }
}

export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index];
}

export const round = (n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
