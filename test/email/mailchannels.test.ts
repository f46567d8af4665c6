import { afterEach, describe, expect, it, vi } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { MAILCHANNELS_URL, mailchannelsTransport, retryAfterMs } from "../../src/mail/mailchannels";
import { BASE, config, job } from "./fixtures";

const DKIM = { domain: "example.com", selector: "mc1", privateKey: "cHJpdmF0ZQ==" };

afterEach(() => {
  vi.restoreAllMocks();
});

async function message(from: string | null = null) {
  return composeEmail(job({ from, scenarioRecord: { id: 1, token: "tok-mc" } }), config(), Date.now(), 1);
}

function answer(status: number, body = "", headers: Record<string, string> = {}) {
  return vi.spyOn(globalThis, "fetch").mockResolvedValue(new Response(body || null, { status, headers }));
}

describe("MailChannels request", () => {
  it("posts the documented JSON payload with the API key", async () => {
    const fetch = answer(202, JSON.stringify({ request_id: "req-42", results: [{ index: 0, status: "sent" }] }));
    const m = await message("Dwight <dwight@dunder.example>");
    const result = await mailchannelsTransport({ apiKey: "key-123", dkim: DKIM }).send(m);
    expect(result).toEqual({ ok: true, providerId: "req-42" });
    expect(fetch).toHaveBeenCalledTimes(1);
    const [url, init] = fetch.mock.calls[0] as [string, RequestInit];
    expect(url).toBe(MAILCHANNELS_URL);
    expect(url).toBe("https://api.mailchannels.net/tx/v1/send");
    expect(init.method).toBe("POST");
    const headers = new Headers(init.headers);
    expect(headers.get("x-api-key")).toBe("key-123");
    expect(headers.get("content-type")).toBe("application/json");
    expect(init.signal).toBeInstanceOf(AbortSignal);
    expect(JSON.parse(init.body as string)).toEqual({
      personalizations: [
        {
          to: [{ email: "michael@example.com", name: "Michael Scott" }],
          dkim_domain: "example.com",
          dkim_selector: "mc1",
          dkim_private_key: "cHJpdmF0ZQ==",
        },
      ],
      from: { email: "marketing@example.com", name: "Dwight" },
      reply_to: { email: "dwight@dunder.example", name: "Dwight" },
      subject: "Hello Michael Scott",
      content: [
        { type: "text/plain", value: m.text },
        { type: "text/html", value: m.html },
      ],
      headers: {
        "List-Id": "<scenario-7.example.com>",
        "List-Unsubscribe": `<${BASE}/u/tok-mc>`,
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
      },
    });
    expect(m.html).toContain(`${BASE}/l/`);
  });

  it("leaves out DKIM, reply_to and empty names when there are none", async () => {
    const fetch = answer(202);
    const m = await composeEmail(
      job({ party: { id: "p", fields: { email: "jim@example.com" } } }),
      config({ EMAIL_FROM: "news@example.com" }),
      Date.now(),
      1,
    );
    await mailchannelsTransport({ apiKey: "k", dkim: null }).send(m);
    const body = JSON.parse((fetch.mock.calls[0] as [string, RequestInit])[1].body as string);
    expect(body.personalizations).toEqual([{ to: [{ email: "jim@example.com" }] }]);
    expect(body.from).toEqual({ email: "news@example.com" });
    expect(body).not.toHaveProperty("reply_to");
  });
});

describe("MailChannels answers", () => {
  const send = async () => mailchannelsTransport({ apiKey: "k", dkim: null, timeoutMs: 50 }).send(await message());

  it("202 is sent, with the request id its delivery events will name", async () => {
    answer(202, '{"request_id":"wBLWrCnK0Z965pf-cgxhNg8bo5s=","results":[{"index":0,"status":"sent"}]}');
    expect(await send()).toEqual({ ok: true, providerId: "wBLWrCnK0Z965pf-cgxhNg8bo5s=" });
  });

  it("202 without a request id is still sent", async () => {
    answer(202, '{"data":["queued"]}');
    expect(await send()).toEqual({ ok: true, providerId: null });
  });

  it("400 is permanent, with the provider's message", async () => {
    answer(400, JSON.stringify({ errors: ["personalizations[0].to[0].email: invalid address"] }));
    expect(await send()).toEqual({
      ok: false,
      retry: false,
      error: "MailChannels 400: personalizations[0].to[0].email: invalid address",
    });
  });

  it("401 and 403 are permanent", async () => {
    answer(401, "Unauthorized");
    expect(await send()).toEqual({ ok: false, retry: false, error: "MailChannels 401: Unauthorized" });
    vi.restoreAllMocks();
    answer(403, JSON.stringify({ message: "domain lockdown: example.com is not authorized" }));
    expect(await send()).toMatchObject({ ok: false, retry: false, error: expect.stringContaining("domain lockdown") });
  });

  it("429 is a quota: the work waits, no sooner than Retry-After", async () => {
    answer(429, "Too Many Requests", { "retry-after": "120" });
    expect(await send()).toEqual({
      ok: false,
      retry: true,
      quota: true,
      error: "MailChannels 429: Too Many Requests",
      retryAfterMs: 120_000,
    });
    expect(retryAfterMs("Fri, 27 Nov 2026 14:01:00 GMT", Date.UTC(2026, 10, 27, 14, 0, 0))).toBe(60_000);
    expect(retryAfterMs("soon")).toBeNull();
  });

  it("500 is retried", async () => {
    answer(500, "Internal Server Error");
    expect(await send()).toEqual({ ok: false, retry: true, error: "MailChannels 500: Internal Server Error" });
  });

  it("a timeout is retried", async () => {
    vi.spyOn(globalThis, "fetch").mockImplementation(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        }),
    );
    expect(await send()).toEqual({ ok: false, retry: true, error: "MailChannels did not answer within 0.05 s" });
  });

  it("a network error is retried", async () => {
    vi.spyOn(globalThis, "fetch").mockRejectedValue(new TypeError("Network connection lost."));
    expect(await send()).toEqual({
      ok: false,
      retry: true,
      error: "MailChannels could not be reached: Network connection lost.",
    });
  });
});
