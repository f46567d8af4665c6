import { applyD1Migrations, reset } from "cloudflare:test";
// @ts-expect-error -- the pool's own module (no types): it holds the waitUntil promises of every handler it ran.
import { waitForGlobalWaitUntil } from "cloudflare:test-internal";
import { DurableObject, env, WorkerEntrypoint, WorkflowEntrypoint } from "cloudflare:workers";
import { afterAll, afterEach, beforeEach, vi } from "vitest";

/**
 * One runtime, many test files (vitest.config.ts: `isolate: false`). Test files run one after another in the same
 * workerd runtime instead of each starting its own, and each still starts from nothing:
 *
 * - storage: `reset()` deletes everything the previous file left in every binding (D1, R2, Durable Objects and
 *   their alarms, queues, the Cache API), then the migrations are applied to the empty database;
 * - modules: after each file its work still in `waitUntil` (a batch of tracking hits, say) is awaited, and the
 *   modules of src/ and test/ are dropped, so the next file evaluates them afresh: no isolate-memory cache (known
 *   models, remembered links) outlives the file that filled it;
 * - mocks and fake timers are undone after each file.
 */
const g = globalThis as unknown as {
  __vitest_worker__: {
    config: { root: string };
    evaluatedModules: { idToModuleMap: Map<string, unknown>; invalidateModule(node: unknown): void };
  };
  __vitest_mocker__?: { moduleRunner?: { transport?: { invoke: unknown } } };
  __testSetup?: { invoke?: unknown };
};

if (!g.__testSetup) {
  g.__testSetup = {};
  /**
   * @cloudflare/vitest-pool-workers 0.15.1 wraps each Durable Object and SELF entrypoint in a class whose
   * constructor puts one more Proxy around the class's prototype every time an instance is made (every SELF.fetch,
   * every new object), so each request of a runtime is slower than the one before (cloudflare/workers-sdk#15446:
   * a cheap GET went from 36 ms to 159 ms over 300 requests here). The wrapper classes construct through
   * Reflect.construct(base, args, Wrapper); keeping the prototype their first instance got keeps every request as
   * fast as the first (8 ms).
   */
  const bases = new Set<unknown>([DurableObject, WorkerEntrypoint, WorkflowEntrypoint]);
  const firstPrototype = new WeakMap<object, unknown>();
  const construct = Reflect.construct;
  Reflect.construct = ((target: never, args: never, newTarget?: { prototype: unknown }) => {
    if (newTarget === undefined) return construct(target, args);
    if (newTarget !== (target as unknown) && bases.has(target)) {
      const first = firstPrototype.get(newTarget);
      if (first === undefined) firstPrototype.set(newTarget, newTarget.prototype);
      else newTarget.prototype = first;
    }
    return construct(target, args, newTarget as never);
  }) as typeof Reflect.construct;
}

/**
 * The same pool wraps the module runner's transport once more for each test file it runs in a runtime, so a
 * module import of the nth file makes n round trips (fixed upstream in @cloudflare/vitest-plugin 1.4.5): keep the
 * first file's transport.
 */
const transport = g.__vitest_mocker__?.moduleRunner?.transport;
if (transport) {
  g.__testSetup.invoke ??= transport.invoke;
  transport.invoke = g.__testSetup.invoke;
}

// A clean storage for this file, whatever the previous file of this runtime left.
await reset();
await applyD1Migrations(
  env.DB,
  (env as unknown as { TEST_MIGRATIONS: { name: string; queries: string[] }[] }).TEST_MIGRATIONS,
);

afterAll(async () => {
  await waitForGlobalWaitUntil().catch(() => {});
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
  const { config, evaluatedModules } = g.__vitest_worker__;
  const root = `${config.root}/`;
  for (const [id, node] of evaluatedModules.idToModuleMap) {
    if (id.startsWith(root) && !id.includes("/node_modules/")) evaluatedModules.invalidateModule(node);
  }
});

/**
 * Quiet tests: many tests inject faults on purpose (D1 down, a transport failing, a domain that no longer compiles)
 * and the service logs each one, as it should in production. What a test logs with console.error / console.warn /
 * console.log / console.info is kept aside and printed only when that test fails, so `npm test` shows the logs that
 * matter. TEST_LOGS=1 prints everything as it happens. See README, "Quiet tests".
 */
const verbose = (env as unknown as { TEST_LOGS?: string }).TEST_LOGS === "1";
const levels = ["error", "warn", "log", "info"] as const;
type Level = (typeof levels)[number];
const original = Object.fromEntries(levels.map((level) => [level, console[level]])) as Record<
  Level,
  typeof console.log
>;
let kept: { level: Level; args: unknown[] }[] = [];

beforeEach((ctx) => {
  if (verbose) return;
  kept = [];
  for (const level of levels) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      kept.push({ level, args });
    });
  }
  ctx.onTestFailed(() => {
    for (const { level, args } of kept) original[level]("[logged during the failed test]", ...args);
  });
});

afterEach(() => {
  if (verbose) return;
  for (const level of levels) vi.mocked(console[level]).mockRestore?.();
});
