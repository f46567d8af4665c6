import SwaggerParser from "@apidevtools/swagger-parser";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { Response } from "miniflare";
import { defineConfig } from "vitest/config";

/**
 * A service the tests call to lint the OpenAPI document with @apidevtools/swagger-parser, which needs Node (it does
 * not load inside workerd): the function runs in the test runner's Node process.
 */
async function lintOpenApi(request: Request) {
  try {
    const api = await SwaggerParser.validate((await request.json()) as never);
    return Response.json({ valid: true, title: api.info.title });
  } catch (err) {
    return Response.json({ valid: false, error: String(err) });
  }
}

/** Tests run inside workerd with the bindings of wrangler.toml; each test file gets its own storage. */
export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    plugins: [
      cloudflareTest({
        main: "./src/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          compatibilityFlags: ["nodejs_compat", "service_binding_extra_handlers"],
          serviceBindings: { OPENAPI_LINT: lintOpenApi as never },
          bindings: {
            // The settings wrangler.toml leaves to the deployer, with local values (README, "Configuration").
            EMAIL_FROM: "Marketing <marketing@example.com>",
            WEB_HOSTNAME: "localhost:8787",
            AUTOMATION_BASE: "http://localhost:8787",
            MAIL_TRANSPORT: "local",
            LOCAL_MODE: "1",
            ADMIN_TOKEN: "test-admin-token",
            WEBHOOK_SECRET: "test-webhook-secret",
            TRACKING_SECRET: "test-tracking-secret-0123456789abcdef",
            TEST_MIGRATIONS: migrations,
            TEST_LOGS:
              (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.TEST_LOGS ?? "0",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 30_000,
    },
  };
});
