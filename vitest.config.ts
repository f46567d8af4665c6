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

/**
 * The runtime's own notices, printed between test results though no test is at fault: the runner's socket closing
 * when vitest is done with it, and workerd noting an alarm that ran a few ms late or was replaced. TEST_LOGS=1 keeps
 * them (README, "Quiet tests").
 */
const runtimeNoise = [
  /^exception = .*WebSocket peer disconnected/,
  /^NOSENTRY SQLite alarm (overdue|handler canceled)/,
];
type Write = (chunk: string | Uint8Array, ...rest: unknown[]) => boolean;
type Stream = { write: Write };
const node = (globalThis as { process?: { env: Record<string, string | undefined>; stdout: Stream; stderr: Stream } })
  .process;
if (node && node.env.TEST_LOGS !== "1") {
  // The pool prints the runtime's logs on stdout or stderr by their level.
  for (const stream of [node.stdout, node.stderr]) {
    const write = stream.write.bind(stream);
    stream.write = (chunk, ...rest) => {
      const text = typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
      return runtimeNoise.some((noise) => noise.test(text)) ? true : write(chunk, ...rest);
    };
  }
}

/**
 * Tests run inside workerd with the bindings of wrangler.toml. Test files share one runtime (`isolate: false`):
 * starting a runtime and importing the Worker into it cost ~6 s a file, more than most files take to run.
 * test/setup.ts gives each file an empty storage and fresh modules all the same.
 */
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
            TEST_LOGS: node?.env.TEST_LOGS ?? "0",
          },
        },
      }),
    ],
    test: {
      include: ["test/**/*.test.ts"],
      setupFiles: ["./test/setup.ts"],
      testTimeout: 30_000,
      // With the pool of @cloudflare/vitest-pool-workers 0.13+, `isolate: true` (vitest's default) starts a new
      // Miniflare runtime for every test file; `false` keeps one runtime a worker for all the files it runs.
      isolate: false,
    },
  };
});
