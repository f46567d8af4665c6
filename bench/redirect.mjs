// The click redirect for a cached key against a bare route that returns a fixed 302, in the same wrangler dev
// process, under the same load from autocannon (bounded in time). Each is run twice, in the order bare, click, click, bare;
// the mean is kept.
import autocannon from "autocannon";
import { log } from "./lib.mjs";

const BROWSER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

async function load(url, { duration, connections }) {
  const r = await autocannon({ url, duration, connections, headers: { "user-agent": BROWSER } });
  if (r["5xx"] > 0 || r.errors > 0 || r["3xx"] === 0) {
    throw new Error(`${url}: ${r["5xx"]} 5xx, ${r.errors} errors, ${r["3xx"]} redirects`);
  }
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, total: r["3xx"] };
}

/** A click key of an e-mail that was sent, read from the archive. */
export async function clickKey(api, scenarioId) {
  const list = await api("GET", `/emails?scenario_id=${scenarioId}&limit=1`);
  const email = await api("GET", `/emails/${list.items[0].id}`);
  const match = /href="[^"]*\/l\/([A-Za-z0-9_-]+)"/.exec(email.html);
  if (!match) throw new Error("no tracking link in the archived e-mail");
  return match[1];
}

export async function benchRedirect(base, key, { duration = 10, connections = 16 } = {}) {
  const click = `${base}/l/${key}`;
  const bare = `${base}/__bench/redirect`;
  const first = await fetch(click, { redirect: "manual", headers: { "user-agent": BROWSER } });
  if (first.status !== 302) throw new Error(`the click link answered ${first.status}`);
  await load(bare, { duration: 2, connections });
  await load(click, { duration: 2, connections });
  const runs = { bare: [], click: [] };
  // bare, click, click, bare: each sits as often before as after the other, so drift in the machine's speed during
  // the run (shared cores) does not favour either.
  for (const which of ["bare", "click", "click", "bare"]) {
    runs[which].push(await load(which === "bare" ? bare : click, { duration, connections }));
  }
  const mean = (list, k) => list.reduce((s, r) => s + r[k], 0) / list.length;
  const result = {
    redirect_rps: mean(runs.click, "rps"),
    redirect_p50_ms: mean(runs.click, "p50"),
    redirect_p99_ms: mean(runs.click, "p99"),
    bare_302_rps: mean(runs.bare, "rps"),
    bare_302_p50_ms: mean(runs.bare, "p50"),
    bare_302_p99_ms: mean(runs.bare, "p99"),
  };
  result.redirect_throughput_ratio = result.redirect_rps / result.bare_302_rps;
  result.redirect_p99_ratio = result.redirect_p99_ms / result.bare_302_p99_ms;
  log(
    `redirect: ${Math.round(result.redirect_rps)} req/s p99 ${result.redirect_p99_ms} ms; ` +
      `bare 302: ${Math.round(result.bare_302_rps)} req/s p99 ${result.bare_302_p99_ms} ms`,
  );
  return result;
}
