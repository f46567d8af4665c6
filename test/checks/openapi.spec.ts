import { describe, expect, inject, it } from "vitest";
import { spectralLint } from "./tools.mjs";

const base = inject("base");

describe("the served OpenAPI document as Spectral lints it (spectral:oas, .spectral.yaml)", () => {
  it("has no error and no warning (a rule turned off says why in .spectral.yaml)", async () => {
    const doc = await (await fetch(`${base}/api/openapi.json`)).json();
    const results = await spectralLint(doc);
    const counts: Record<string, number> = { error: 0, warn: 0, info: 0, hint: 0 };
    const byCode: Record<string, number> = {};
    for (const r of results) {
      counts[r.severity] = (counts[r.severity] ?? 0) + 1;
      byCode[`${r.severity} ${r.code}`] = (byCode[`${r.severity} ${r.code}`] ?? 0) + 1;
    }
    const detail = Object.entries(byCode).map(([k, n]) => `  ${n} × ${k}`);
    process.stdout.write(
      `[checks] Spectral on /api/openapi.json: ${counts.error} errors, ${counts.warn} warnings, ${counts.info} infos, ` +
        `${counts.hint} hints\n${detail.join("\n")}${detail.length ? "\n" : ""}`,
    );
    const problems = results.filter((r) => r.severity === "error" || r.severity === "warn");
    expect(problems.map((r) => `${r.severity} ${r.code} at ${r.path}: ${r.message}`)).toEqual([]);
  });
});
