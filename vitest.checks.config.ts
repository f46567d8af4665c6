import { defineConfig } from "vitest/config";

/**
 * The checks (`npm run test:checks`): SpamAssassin, Spectral and axe-core judge what the service produces, against
 * one local `wrangler dev` on a fresh database (the browser tests' global setup), one spec after the other.
 */
export default defineConfig({
  test: {
    include: ["test/checks/**/*.spec.ts"],
    environment: "node",
    globalSetup: ["./test/browser/global-setup.mjs"],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
