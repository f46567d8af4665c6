import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { webhookSignature } from "../../src/actions/webhook";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import { createActivity } from "../../src/engine/scenarios/activities";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivityOf, testEngine } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const HOOK = "https://hooks.example/marketing";

beforeAll(async () => {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "oscar", name: "Oscar Martinez", email: "oscar@example.com" },
      { id: "kevin", name: "Kevin Malone", email: "kevin@example.com" },
    ],
  });
  await ok("PUT", "/records/sale/s-oscar", { party: "oscar", state: "confirmed", amount: 120 });
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

/** A running scenario over one record with a webhook root activity (and a child after it), enrolled. */
async function hooked(name: string, model: string, recordId: string, settings: Record<string, unknown>) {
  const built = await buildScenario({ name, model, domain: [["id", "=", recordId]] }, [
    { name: "Hook", action: "webhook", settings },
    { name: "After", parent: "Hook" },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
  const hook = () => recordActivityOf(built.scenarioId, built.activity.Hook as string, recordId);
  const after = () => recordActivityOf(built.scenarioId, built.activity.After as string, recordId);
  return { ...built, hook, after };
}

/** The receiver's answers, in order. Each Response is made when called: a body is read in the request that made it. */
function answer(...responses: (() => Response | Error)[]) {
  const spy = vi.spyOn(globalThis, "fetch");
  for (const make of responses) {
    spy.mockImplementationOnce(async () => {
      const r = make();
      if (r instanceof Error) throw r;
      return r;
    });
  }
  return spy;
}

describe("webhook action", () => {
  it("POSTs a signed JSON payload with the record, its party, the scenario and the activity; 2xx is done", async () => {
    const s = await hooked("Hook sale", "sale", "s-oscar", { url: HOOK });
    const fetch = answer(() => new Response("ok", { status: 200 }));
    expect(await ok("POST", "/jobs/process")).toMatchObject({ done: 1 });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe(HOOK);
    expect(init.method).toBe("POST");
    expect(init.redirect).toBe("manual");
    expect(init.signal).toBeInstanceOf(AbortSignal);
    const headers = new Headers(init.headers);
    expect(headers.get("content-type")).toBe("application/json");
    const body = init.body as string;
    const payload = JSON.parse(body);
    const ra = await s.hook();
    expect(payload).toMatchObject({
      id: ra?.id,
      attempt: 1,
      scenario: { id: s.scenarioId, name: "Hook sale" },
      activity: { id: s.activity.Hook, name: "Hook" },
      record: { model: "sale", id: "s-oscar", fields: { party: "oscar", state: "confirmed", amount: 120 } },
      party: { id: "oscar", fields: { name: "Oscar Martinez", email: "oscar@example.com" } },
    });
    expect(headers.get("x-webhook-id")).toBe(ra?.id);
    const timestamp = headers.get("x-webhook-timestamp") as string;
    expect(headers.get("x-webhook-signature")).toBe(await webhookSignature("test-webhook-secret", timestamp, body));
    expect(headers.get("x-webhook-signature")).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(ra).toMatchObject({ state: "done", attempts: 1 });
    expect(await s.after()).toMatchObject({ state: "done" });
  });

  it("retries a 5xx, a 429 (not before its Retry-After) and a timeout with backoff, then succeeds", async () => {
    const s = await hooked("Hook flaky", "party", "kevin", { url: HOOK, timeout_seconds: 2 });
    const { engine } = testEngine();
    vi.useFakeTimers({ toFake: ["Date"] });
    let now = Date.now();
    answer(
      () => new Response("busy", { status: 503 }),
      () => new Response("", { status: 429, headers: { "retry-after": "3600" } }),
      () => new DOMException("The operation timed out", "TimeoutError"),
      () => new Response(null, { status: 204 }),
    );
    await processDue(engine);
    expect(await s.hook()).toMatchObject({
      state: "waiting",
      attempts: 1,
      reason: "retrying: webhook answered 503: busy",
    });
    now += 31_000;
    vi.setSystemTime(now);
    await processDue(engine);
    const limited = await s.hook();
    expect(limited).toMatchObject({ state: "waiting", attempts: 2, reason: "retrying: webhook answered 429" });
    expect(Date.parse(limited?.at as string) - now).toBeGreaterThanOrEqual(3_600_000);
    now += 3_601_000;
    vi.setSystemTime(now);
    await processDue(engine);
    expect(await s.hook()).toMatchObject({
      state: "waiting",
      attempts: 3,
      reason: "retrying: webhook timed out after 2 s",
    });
    now += 8 * 60_000 + 1_000;
    vi.setSystemTime(now);
    await processDue(engine);
    expect(await s.hook()).toMatchObject({ state: "done", attempts: 4 });
  });

  it("without WEBHOOK_SECRET nothing is sent unsigned: the call is retried with that reason", async () => {
    const s = await hooked("Hook unsigned", "party", "oscar", { url: HOOK });
    const fetch = vi.spyOn(globalThis, "fetch");
    const unsigned = buildServices({ ...(env as Bindings), WEBHOOK_SECRET: "" }, { wake: async () => {} });
    await processDue(unsigned);
    expect(fetch).not.toHaveBeenCalled();
    expect(await s.hook()).toMatchObject({
      state: "waiting",
      reason: "retrying: configuration: WEBHOOK_SECRET is not set (webhook payloads are signed)",
    });
  });

  it("fails on a 4xx or a redirect with the receiver's answer, and creates no children", async () => {
    const gone = await hooked("Hook 404", "party", "oscar", { url: HOOK });
    answer(() => new Response("no such hook", { status: 404 }));
    await ok("POST", "/jobs/process");
    expect(await gone.hook()).toMatchObject({ state: "failed", reason: "webhook answered 404: no such hook" });
    expect(await gone.after()).toBeUndefined();

    const moved = await hooked("Hook 302", "party", "kevin", { url: HOOK });
    answer(() => new Response(null, { status: 302, headers: { location: "http://127.0.0.1/" } }));
    await ok("POST", "/jobs/process");
    expect((await moved.hook())?.reason).toBe("webhook answered 302 (redirects are not followed)");
  });

  it("refuses invalid settings when the activity is saved, naming the field", async () => {
    const s = await ok("POST", "/scenarios", { name: "Hook settings", model: "party" });
    const create = (body: Record<string, unknown>) =>
      api("POST", `/scenarios/${s.id}/activities`, { name: "Hook", action: "webhook", ...body });
    expectError(await create({}), 400, "settings.url");
    expectError(
      await create({ settings: { url: "ftp://files.example/" } }),
      400,
      "settings.url: must be an http(s) URL",
    );
    expectError(await create({ settings: { url: "https://u:p@hooks.example/" } }), 400, "settings.url");
    expectError(await create({ settings: { url: HOOK, timeout_seconds: 90 } }), 400, "settings.timeout_seconds");
    expectError(await create({ settings: { url: HOOK, method: "GET" } }), 400, "settings");
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, { name: "X", settings: { url: HOOK } }),
      400,
      "settings",
    );
    const created = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "Hook",
      action: "webhook",
      settings: { url: HOOK },
    });
    expect(created).toMatchObject({ action: "webhook", settings: { url: HOOK } });
  });

  it("refuses private, loopback, link-local and metadata addresses unless WEBHOOK_ALLOW_PRIVATE is set", async () => {
    const s = await ok("POST", "/scenarios", { name: "Hook private", model: "party" });
    for (const url of [
      "http://127.0.0.1:8080/",
      "http://2130706433/",
      "http://localhost/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.1.2.3/",
      "http://192.168.1.10/",
      "http://[::1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[fd00:ec2::254]/",
      "http://metadata.google.internal/",
    ]) {
      const res = await api("POST", `/scenarios/${s.id}/activities`, {
        name: "H",
        action: "webhook",
        settings: { url },
      });
      expectError(res, 400, "settings.url: refused");
    }
    // Allowed for local development when configured; still refused when the Worker that runs it is not configured so.
    const local = buildServices({ ...(env as Bindings), WEBHOOK_ALLOW_PRIVATE: "1" }, { wake: async () => {} });
    const built = await buildScenario({ name: "Hook local", model: "party", domain: [["id", "=", "oscar"]] }, []);
    const activity = await createActivity(local, Number(built.scenarioId), {
      parentId: null,
      name: "Local hook",
      on: null,
      condition: null,
      delay: null,
      action: "webhook",
      emailFrom: null,
      emailTitle: null,
      emailTemplate: null,
      settings: { url: "http://127.0.0.1:8813/hook" },
      weight: null,
      emailTranslations: null,
      sendWindow: null,
    });
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
    await enroll(testEngine().engine, { scenarioId: Number(built.scenarioId) });
    const fetch = vi.spyOn(globalThis, "fetch");
    await processDue(testEngine().engine);
    expect(fetch).not.toHaveBeenCalled();
    const ra = await recordActivityOf(built.scenarioId, String(activity.id), "oscar");
    expect(ra?.state).toBe("failed");
    expect(ra?.reason).toContain("refused: 127.0.0.1 is a loopback address");
  });
});
