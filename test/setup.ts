import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, vi } from "vitest";

// Each test file has its own storage: migrate it once (applyD1Migrations skips what is already applied).
await applyD1Migrations(
  env.DB,
  (env as unknown as { TEST_MIGRATIONS: { name: string; queries: string[] }[] }).TEST_MIGRATIONS,
);

/**
 * Quiet tests: many tests inject faults on purpose (D1 down, a transport failing, a domain that no longer compiles)
 * and the service logs each one, as it should in production. What a test logs with console.error / console.warn is
 * kept aside and printed only when that test fails, so `npm test` shows the logs that matter. TEST_LOGS=1 prints
 * everything as it happens. See README, "Quiet tests".
 */
const verbose = (env as unknown as { TEST_LOGS?: string }).TEST_LOGS === "1";
const original = { error: console.error, warn: console.warn };
let kept: { level: "error" | "warn"; args: unknown[] }[] = [];

beforeEach((ctx) => {
  if (verbose) return;
  kept = [];
  vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => {
    kept.push({ level: "error", args });
  });
  vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => {
    kept.push({ level: "warn", args });
  });
  ctx.onTestFailed(() => {
    for (const { level, args } of kept) original[level]("[logged during the failed test]", ...args);
  });
});

afterEach(() => {
  if (verbose) return;
  vi.mocked(console.error).mockRestore?.();
  vi.mocked(console.warn).mockRestore?.();
});
