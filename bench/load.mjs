// Load test of the tracking routes for a bounded time with a mix of hits: human clicks, link-scanner clicks, HEAD
// requests, unknown keys, open pixels, unsubscribe pages and one-click unsubscribes. Checks: no 5xx, and every hit on
// a known key recorded exactly once (human hits as human, the others as machine hits).
import { log, sleep } from "./lib.mjs";

const BROWSER =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const SCANNER = "Mozilla/5.0 (compatible; Mimecast URL Protect)";

export async function tracking(api, scenarioId) {
  const list = await api("GET", `/emails?scenario_id=${scenarioId}&limit=2`);
  const [a, b] = await Promise.all(list.items.map((e) => api("GET", `/emails/${e.id}`)));
  const key = (html, re) => {
    const found = re.exec(html)?.[1];
    if (!found) throw new Error(`no ${re} in the archived e-mail`);
    return found;
  };
  return {
    click: key(a.html, /\/l\/([A-Za-z0-9_-]+)"/),
    pixel: key(a.html, /\/o\/([A-Za-z0-9_-]+)\.gif"/),
    unsubscribe: key(b.html, /\/u\/([0-9]+-[0-9a-f]{32})"/),
  };
}

export async function benchLoad(server, keys, { seconds = 15, concurrency = 24 } = {}) {
  const base = server.base;
  const kinds = [
    { name: "human_click", url: `/l/${keys.click}`, ua: BROWSER, expect: 302 },
    { name: "scanner_click", url: `/l/${keys.click}`, ua: SCANNER, expect: 302 },
    { name: "head_click", url: `/l/${keys.click}`, ua: BROWSER, method: "HEAD", expect: 302 },
    { name: "unknown_key", url: "/l/AAAAAAAAAAAAAAAA", ua: BROWSER, expect: 404 },
    { name: "open_pixel", url: `/o/${keys.pixel}.gif`, ua: BROWSER, expect: 200 },
    { name: "unsubscribe_page", url: `/u/${keys.unsubscribe}`, ua: BROWSER, expect: 200 },
    {
      name: "one_click_unsubscribe",
      url: `/u/${keys.unsubscribe}`,
      ua: BROWSER,
      method: "POST",
      body: "List-Unsubscribe=One-Click",
      expect: 200,
    },
  ];
  const sent = Object.fromEntries(kinds.map((k) => [k.name, 0]));
  const statuses = {};
  let unexpected = 0;
  let next = 0;
  const deadline = performance.now() + seconds * 1000;
  const before = server.sql("SELECT count(*) AS n FROM hits")[0].n;
  async function worker() {
    while (performance.now() < deadline) {
      const k = kinds[next++ % kinds.length];
      const res = await fetch(base + k.url, {
        method: k.method ?? "GET",
        redirect: "manual",
        headers: { "user-agent": k.ua, ...(k.body ? { "content-type": "application/x-www-form-urlencoded" } : {}) },
        body: k.body,
      });
      await res.arrayBuffer();
      sent[k.name]++;
      statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      if (res.status !== k.expect) unexpected++;
    }
  }
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - t0) / 1000;
  const total = Object.values(sent).reduce((s, n) => s + n, 0);
  const fiveHundreds = Object.entries(statuses)
    .filter(([s]) => Number(s) >= 500)
    .reduce((n, [, c]) => n + c, 0);

  // Hits are recorded after the answers (waitUntil): wait until the count settles.
  let recorded = -1;
  for (let i = 0; i < 60; i++) {
    const now = server.sql("SELECT count(*) AS n FROM hits")[0].n - before;
    if (now === recorded) break;
    recorded = now;
    await sleep(1000);
  }
  const rows = server.sql(
    `SELECT kind, human, link_key, count(*) AS n FROM hits WHERE id > (SELECT max(id) - ${recorded} FROM hits) GROUP BY kind, human, link_key`,
  );
  const count = (kind, human, linkKey) =>
    rows
      .filter((r) => r.kind === kind && r.human === human && (linkKey === undefined || r.link_key === linkKey))
      .reduce((n, r) => n + r.n, 0);
  const humanClicks = count("click", 1, keys.click);
  const machineClicks = count("click", 0, keys.click);
  const humanOpens = count("open", 1);
  const unsubscribes = count("unsubscribe", 1) + count("unsubscribe", 0);
  const exact =
    humanClicks === sent.human_click &&
    machineClicks === sent.scanner_click + sent.head_click &&
    humanOpens === sent.open_pixel &&
    unsubscribes === sent.one_click_unsubscribe;
  log(
    `load: ${total} requests in ${elapsed.toFixed(1)} s (${Math.round(total / elapsed)}/s), statuses ${JSON.stringify(statuses)}, ` +
      `unexpected ${unexpected}; human clicks ${humanClicks}/${sent.human_click}, machine clicks ${machineClicks}/` +
      `${sent.scanner_click + sent.head_click}, opens ${humanOpens}/${sent.open_pixel}, unsubscribe hits ${unsubscribes}/${sent.one_click_unsubscribe}`,
  );
  return {
    load_requests_per_s: total / elapsed,
    load_requests: total,
    load_5xx: fiveHundreds,
    load_unexpected_status: unexpected,
    load_human_hits_sent: sent.human_click + sent.open_pixel,
    load_human_hits_recorded: humanClicks + humanOpens,
    load_machine_hits_sent: sent.scanner_click + sent.head_click,
    load_machine_hits_recorded: machineClicks,
    load_unsubscribe_hits_sent: sent.one_click_unsubscribe,
    load_unsubscribe_hits_recorded: unsubscribes,
    load_hits_recorded_exactly_once: exact ? 1 : 0,
  };
}
