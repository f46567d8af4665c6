import { beforeAll, describe, expect, inject, it } from "vitest";
import { apiClient } from "../browser/harness.mjs";
import { type Sent, sendCorpus } from "./corpus";
import { spamScore } from "./tools.mjs";

/** The most points SpamAssassin (local rules) may give any of our e-mails; 5.0 is its spam threshold. */
const MAX_SCORE = 1.0;

const base = inject("base");
let corpus: Sent[];

beforeAll(async () => {
  corpus = await sendCorpus(base, apiClient(base), "spam");
});

describe("our e-mails as SpamAssassin scores them (spamassassin -L -t, local rules)", () => {
  it(`scores each at most ${MAX_SCORE}`, async () => {
    const scored = await Promise.all(corpus.map(async (m) => ({ ...m, ...(await spamScore(m.raw, m.name)) })));
    const lines = scored.map(
      (m) =>
        `  ${m.name.padEnd(18)} ${m.score.toFixed(1).padStart(5)}  ${m.comparison ? "(comparison, not bounded) " : ""}` +
        (m.rules.map((r) => `${r.name} ${r.points}`).join(", ") || "no rule"),
    );
    process.stdout.write(`[checks] SpamAssassin scores (at most ${MAX_SCORE}, spam at 5.0):\n${lines.join("\n")}\n`);
    for (const m of scored.filter((s) => !s.comparison))
      expect(m.score, `${m.name}: ${lines.join("\n")}`).toBeLessThanOrEqual(MAX_SCORE);
  });
});
