import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMailer } from "../../src/email/mailer";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue, retryDelay } from "../../src/engine/execution/execute";
import type { Bindings } from "../../src/env";
import { withMailer } from "../../src/services";
import { buildScenario, recordActivities, testEngine } from "../engine/fixtures";
import { ok } from "../helpers";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

const mailchannels = {
  ...(env as unknown as Bindings),
  MAIL_TRANSPORT: "mailchannels",
  MAILCHANNELS_API_KEY: "test-key",
} as Bindings;

/**
 * A MailChannels API that misbehaves per recipient, in turn: 500, 429 with Retry-After, a timeout, then 202 — except
 * for some recipients whose address it refuses for good (400). Counts what it accepted, per recipient.
 */
function flakyProvider() {
  const calls = new Map<string, number>();
  const accepted = new Map<string, number>();
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith("https://api.mailchannels.net/")) throw new Error(`unexpected fetch ${url}`);
    const body = JSON.parse(String(init?.body));
    const to = body.personalizations[0].to[0].email as string;
    const n = (calls.get(to) ?? 0) + 1;
    calls.set(to, n);
    if (to.startsWith("refused"))
      return new Response(JSON.stringify({ errors: ["invalid recipient"] }), { status: 400 });
    if (n === 1) return new Response("upstream error", { status: 500 });
    if (n === 2) return new Response("slow down", { status: 429, headers: { "retry-after": "120" } });
    if (n === 3) throw new DOMException("The operation timed out.", "TimeoutError");
    accepted.set(to, (accepted.get(to) ?? 0) + 1);
    return new Response(null, { status: 202 });
  });
  return { calls, accepted };
}

describe("fault injection: a transport that fails transiently, rate-limits and times out", () => {
  it("every record activity ends done or failed with a reason; none lost, none sent twice", async () => {
    const ids = Array.from({ length: 24 }, (_, i) => (i % 6 === 0 ? `refused${i}` : `ok${i}`));
    await ok("POST", "/records/party/batch", {
      records: ids.map((id) => ({ id, name: id, email: `${id}@example.com` })),
    });
    const { scenarioId, activity } = await buildScenario(
      { name: "Flaky", model: "party", domain: [["id", "in", ids]] },
      [
        { name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hi {{party.name}}</p>" },
        { name: "After", parent: "Mail" },
      ],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    const provider = flakyProvider();
    const mailer = createMailer(mailchannels);

    vi.useFakeTimers({ toFake: ["Date"] });
    let now = Date.now();
    for (let round = 0; round < 8; round++) {
      vi.setSystemTime(now);
      while ((await processDue(withMailer(engine, mailer))).more) {
        // drain
      }
      now += retryDelay(4, 120_000) + 1_000;
    }

    const mails = await recordActivities(scenarioId, `&activity_id=${activity.Mail}`);
    expect(mails).toHaveLength(ids.length);
    for (const ra of mails) {
      expect(["done", "failed"]).toContain(ra.state);
      if (ra.state === "failed") expect(ra.reason).toContain("invalid recipient");
    }
    expect(mails.filter((r) => r.state === "done")).toHaveLength(20);
    // Each accepted exactly once; the refused ones tried once (a 400 is permanent).
    for (const id of ids) {
      const address = `${id}@example.com`;
      if (id.startsWith("refused")) {
        expect(provider.calls.get(address)).toBe(1);
        expect(provider.accepted.get(address)).toBeUndefined();
      } else {
        expect(provider.accepted.get(address)).toBe(1);
        expect(provider.calls.get(address)).toBe(4);
      }
    }
    const done = mails.filter((r) => r.state === "done");
    // Four calls, three attempts: the 429 put the work back without counting it.
    expect(done.every((r) => r.attempts === 3)).toBe(true);
    // The archive holds every attempt with its status and error.
    const archive = await env.DB.prepare(
      "SELECT status, count(*) AS n FROM email_archive WHERE scenario_id = ? GROUP BY status ORDER BY status",
    )
      .bind(scenarioId)
      .all();
    expect(archive.results).toEqual([
      { status: "failed", n: 4 },
      { status: "retry", n: 60 },
      { status: "sent", n: 20 },
    ]);
    // The children of what was sent exist and ran; the failed ones have none.
    const after = await recordActivities(scenarioId, `&activity_id=${activity.After}`);
    expect(after).toHaveLength(20);
  });

  it("a 429 is not retried before its Retry-After", async () => {
    await ok("PUT", "/records/party/slow", { name: "Slow", email: "slow@example.com" });
    const { scenarioId, activity } = await buildScenario(
      { name: "Slow", model: "party", domain: [["id", "=", "slow"]] },
      [{ name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" }],
    );
    await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(scenarioId).run();
    const { engine } = testEngine();
    await enroll(engine, { scenarioId: Number(scenarioId) });
    vi.spyOn(globalThis, "fetch").mockResolvedValue(
      new Response("", { status: 429, headers: { "retry-after": "3600" } }),
    );
    const before = Date.now();
    await processDue(withMailer(engine, createMailer(mailchannels)));
    const [ra] = await recordActivities(scenarioId, `&activity_id=${activity.Mail}`);
    expect(ra?.state).toBe("waiting");
    expect(Date.parse(ra?.at as string) - before).toBeGreaterThanOrEqual(3_600_000 - 1_000);
    expect(ra?.reason).toContain("429");
  });
});
