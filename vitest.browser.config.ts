import { defineConfig } from "vitest/config";

/**
 * Browser tests (`npm run test:browser`): Node drives Debian's Chromium (playwright-core) against a local
 * `wrangler dev` that the global setup starts on a fresh database and stops afterwards. The specs share that server and
 * run one after the other.
 */
export default defineConfig({
  test: {
    include: ["test/browser/**/*.spec.ts"],
    environment: "node",
    globalSetup: ["./test/browser/global-setup.mjs"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
