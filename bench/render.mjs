// E-mails rendered and rewritten per second for a realistic template (a few hundred words, ten links), beside a bare
// mustache render of the same template in the same workerd process (the /__bench/render baseline route).
import { log } from "./lib.mjs";

async function rendersPerSecond(base, mode, n) {
  let best = Number.POSITIVE_INFINITY;
  await fetch(`${base}/__bench/render?mode=${mode}&n=50`, { method: "POST" });
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const res = await fetch(`${base}/__bench/render?mode=${mode}&n=${n}`, { method: "POST" });
    if (!res.ok) throw new Error(`render ${mode}: ${res.status} ${await res.text()}`);
    await res.text();
    best = Math.min(best, performance.now() - t0);
  }
  return n / (best / 1000);
}

export async function benchRender(base, { n = 1000 } = {}) {
  const bare = await rendersPerSecond(base, "bare", n * 10);
  const rewrite = await rendersPerSecond(base, "rewrite", n);
  const compose = await rendersPerSecond(base, "compose", n);
  log(
    `render: bare ${Math.round(bare)}/s, render+rewrite ${Math.round(rewrite)}/s, whole e-mail ${Math.round(compose)}/s`,
  );
  return {
    render_bare_mustache_per_s: bare,
    render_rewrite_per_s: rewrite,
    render_compose_per_s: compose,
    render_rewrite_over_bare_ratio: rewrite / bare,
  };
}
