// Node side of the checks (npm run test:checks): the tools others judge our output with, run on that output.
// SpamAssassin (Debian's package, local rules only), Spectral (spectral:oas with the project's .spectral.yaml) and
// axe-core's source for injection into pages. Plain JavaScript typed by tools.d.mts, like test/browser/harness.mjs.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { root } from "../browser/harness.mjs";

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/**
 * Scores one raw message with `spamassassin -L -t`: local tests only (no DNS blocklist, no network), and no Bayes
 * database (it learns from every message it scores, so scores would drift from run to run on one machine).
 * Returns the score and each rule hit with its points.
 */
export async function spamScore(raw, name = "message") {
  // CHECKS_EML_DIR=dir keeps each scored message there as <name>.eml, to read or score again by hand.
  if (process.env.CHECKS_EML_DIR) {
    mkdirSync(process.env.CHECKS_EML_DIR, { recursive: true });
    writeFileSync(join(process.env.CHECKS_EML_DIR, `${name.replace(/[^A-Za-z0-9-]+/g, "-")}.eml`), raw);
  }
  const dir = mkdtempSync(join(tmpdir(), "ma-spam-"));
  try {
    const file = join(dir, "message.eml");
    writeFileSync(file, raw);
    const { stdout } = await run("sh", ["-c", 'spamassassin -L -t --cf="use_bayes 0" < "$1"', "sh", file], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const status = /^X-Spam-Status: \w+, score=(-?[\d.]+)/m.exec(stdout);
    if (!status) throw new Error(`spamassassin gave no X-Spam-Status:\n${stdout.slice(0, 2000)}`);
    const rules = [];
    const details = stdout.slice(stdout.indexOf("Content analysis details:"));
    for (const m of details.matchAll(/^ *(-?\d+(?:\.\d+)?) ([A-Z0-9_]+) +(.*)$/gm)) {
      rules.push({ points: Number(m[1]), name: m[2], description: m[3].trim() });
    }
    return { score: Number(status[1]), rules };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lints an OpenAPI document with Spectral and the project's ruleset (.spectral.yaml); returns every result. */
export async function spectralLint(doc) {
  const dir = mkdtempSync(join(tmpdir(), "ma-spectral-"));
  try {
    const file = join(dir, "openapi.json");
    writeFileSync(file, JSON.stringify(doc, null, 2));
    const bin = join(root, "node_modules", ".bin", "spectral");
    const args = ["lint", file, "--ruleset", join(root, ".spectral.yaml"), "--format", "json", "--quiet"];
    // Spectral exits 1 when it finds an error; its report is on stdout either way.
    const { stdout } = await run(bin, args, { maxBuffer: 64 * 1024 * 1024, env: { ...process.env, CI: "true" } }).catch(
      (err) => ({ stdout: err.stdout ?? "" }),
    );
    const results = JSON.parse(stdout || "[]");
    const severity = ["error", "warn", "info", "hint"];
    return results.map((r) => ({
      code: r.code,
      severity: severity[r.severity] ?? String(r.severity),
      path: r.path.join("."),
      message: r.message,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** axe-core's browser build, to inject into a page. */
export const axeSource = () => readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
