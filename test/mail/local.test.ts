import { afterEach, describe, expect, it, vi } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { getConfig } from "../../src/env";
import { AppError } from "../../src/errors";
import { emailIdOfMessageId, localTransport } from "../../src/mail/local";
import { createTransport } from "../../src/mail/registry";
import { bindings, config, job } from "../email/fixtures";

afterEach(() => {
  vi.restoreAllMocks();
});

const OUTBOX = "http://127.0.0.1:9911/outbox";

/** Captures what the transport posts; `answer` decides the listener's reply (or throws as an unreachable one would). */
function listener(answer: () => Response | Promise<Response> = () => new Response(null, { status: 204 })) {
  const posts: { url: string; method: string | undefined; body: Record<string, unknown> }[] = [];
  const events: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    posts.push({ url, method: init?.method, body: JSON.parse(String(init?.body)) });
    events.push("posted");
    return answer();
  });
  return { posts, events };
}

describe("the local transport's delivery log (LOCAL_OUTBOX_URL)", () => {
  it("posts each accepted message, with its e-mail id, and answers only once the listener has it", async () => {
    let release: (r: Response) => void = () => {};
    const { posts, events } = listener(() => new Promise<Response>((resolve) => (release = resolve)));
    const m = await composeEmail(job(), config(), Date.now(), 4242);
    const sending = localTransport({ outboxUrl: OUTBOX })
      .send(m)
      .then((r) => {
        events.push("answered");
        return r;
      });
    await vi.waitFor(() => expect(events).toEqual(["posted"]));
    await new Promise((r) => setTimeout(r, 20));
    expect(events).toEqual(["posted"]);
    release(new Response(null, { status: 204 }));
    const result = await sending;
    expect(result.ok).toBe(true);
    expect(events).toEqual(["posted", "answered"]);
    expect(posts).toHaveLength(1);
    expect(posts[0]?.url).toBe(OUTBOX);
    expect(posts[0]?.method).toBe("POST");
    expect(posts[0]?.body).toEqual({
      email_id: "4242",
      to: "michael@example.com",
      subject: m.subject,
      message_id: m.messageId,
      provider_id: result.ok ? result.providerId : null,
    });
    expect(String(posts[0]?.body.provider_id)).toMatch(/^local-[0-9a-f]{24}$/);
  });

  it("fails the send, to be tried again, when the listener refuses or cannot be reached", async () => {
    const m = await composeEmail(job(), config(), Date.now(), 1);
    listener(() => new Response("full", { status: 503 }));
    expect(await localTransport({ outboxUrl: OUTBOX }).send(m)).toEqual({
      ok: false,
      retry: true,
      error: "local outbox answered 503",
    });
    vi.restoreAllMocks();
    listener(() => {
      throw new TypeError("connection refused");
    });
    expect(await localTransport({ outboxUrl: OUTBOX }).send(m)).toEqual({
      ok: false,
      retry: true,
      error: "local outbox unreachable: connection refused",
    });
  });

  it("posts nothing without an outbox URL, nor for a send answered 429", async () => {
    const { posts } = listener();
    const m = await composeEmail(job(), config(), Date.now(), 2);
    expect(await localTransport().send(m)).toMatchObject({ ok: true });
    expect(await localTransport({ outboxUrl: null }).send(m)).toMatchObject({ ok: true });
    expect(await localTransport({ outboxUrl: OUTBOX, quotaRate: 1, random: () => 0 }).send(m)).toMatchObject({
      ok: false,
      quota: true,
    });
    expect(posts).toHaveLength(0);
  });

  it("is chosen with MAIL_TRANSPORT=local and LOCAL_OUTBOX_URL, which must be local and needs LOCAL_MODE", async () => {
    const { posts } = listener();
    const local = { ...bindings, LOCAL_OUTBOX_URL: "http://localhost:8788/" };
    const transport = createTransport(local, getConfig(local));
    expect(await transport.send(await composeEmail(job(), config(), Date.now(), 3))).toMatchObject({ ok: true });
    expect(posts.map((p) => p.url)).toEqual(["http://localhost:8788/"]);
    const problem = (overrides: Record<string, string>) => {
      try {
        getConfig({ ...bindings, ...overrides } as never);
      } catch (err) {
        if (err instanceof AppError) return err.message;
        throw err;
      }
      return null;
    };
    expect(problem({ LOCAL_OUTBOX_URL: "https://outbox.example.com/" })).toContain("LOCAL_OUTBOX_URL must be");
    expect(problem({ LOCAL_OUTBOX_URL: "ftp://127.0.0.1/" })).toContain("LOCAL_OUTBOX_URL must be");
    expect(problem({ LOCAL_OUTBOX_URL: "not a url" })).toContain("LOCAL_OUTBOX_URL must be");
    expect(problem({ LOCAL_OUTBOX_URL: "" })).toBeNull();
    expect(
      problem({
        LOCAL_OUTBOX_URL: "http://127.0.0.1:8788/",
        LOCAL_MODE: "0",
        MAIL_TRANSPORT: "mailchannels",
        MAILCHANNELS_API_KEY: "k",
        EMAIL_FROM: "m@mail.shop.com",
        AUTOMATION_BASE: "https://go.shop.com",
      }),
    ).toContain('LOCAL_OUTBOX_URL is a local delivery log for npm start and the benchmarks: it needs LOCAL_MODE = "1"');
  });

  it("reads the e-mail id from a derived Message-ID only", () => {
    expect(emailIdOfMessageId("<17.AbC_d-e@example.com>")).toBe("17");
    expect(emailIdOfMessageId("<abc@example.com>")).toBeNull();
  });
});
