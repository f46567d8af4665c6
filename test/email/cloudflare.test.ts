import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { classifyCloudflareError, cloudflareTransport } from "../../src/mail/cloudflare";
import { bindings, config, job } from "./fixtures";

const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

describe("Cloudflare send_email transport", () => {
  it("hands the raw message to the binding, from the From address to the recipient", async () => {
    const sent: EmailMessage[] = [];
    const binding = {
      send: async (m: EmailMessage) => {
        sent.push(m);
        return { messageId: "cf-msg-1" };
      },
    } as unknown as SendEmail;
    const m = await composeEmail(job(), config(), Date.now(), 1);
    expect(await cloudflareTransport(binding).send(m)).toEqual({ ok: true, providerId: "cf-msg-1" });
    expect(sent).toHaveLength(1);
    expect(sent[0]?.from).toBe("marketing@example.com");
    expect(sent[0]?.to).toBe("michael@example.com");
  });

  it("is accepted by the local send_email binding", async () => {
    const m = await composeEmail(job(), config(), Date.now(), 1);
    expect(await cloudflareTransport(bindings.SEND_EMAIL).send(m)).toMatchObject({ ok: true });
    expect((await PostalMime.parse(m.raw)).from?.address).toBe("marketing@example.com");
  });

  it("maps the binding's errors: limits and internal errors retry, refusals are permanent", async () => {
    expect(classifyCloudflareError(coded("E_RATE_LIMIT_EXCEEDED", "rate limited"))).toEqual({
      ok: false,
      retry: true,
      error: "Cloudflare e-mail: E_RATE_LIMIT_EXCEEDED: rate limited",
      quota: true,
    });
    expect(classifyCloudflareError(coded("E_DAILY_LIMIT_EXCEEDED", "daily"))).toMatchObject({
      retry: true,
      retryAfterMs: 3_600_000,
      quota: true,
    });
    expect(classifyCloudflareError(coded("E_INTERNAL_SERVER_ERROR", "oops"))).toMatchObject({ retry: true });
    for (const code of [
      "E_SENDER_NOT_VERIFIED",
      "E_RECIPIENT_NOT_ALLOWED",
      "E_RECIPIENT_SUPPRESSED",
      "E_VALIDATION_ERROR",
    ]) {
      expect(classifyCloudflareError(coded(code, "no"))).toMatchObject({ ok: false, retry: false });
    }
  });

  it("maps errors without a code by their message, and retries what it does not know", async () => {
    expect(classifyCloudflareError(new Error("destination address is not a verified address"))).toMatchObject({
      retry: false,
    });
    expect(classifyCloudflareError(new Error("invalid recipient address"))).toMatchObject({ retry: false });
    expect(classifyCloudflareError(new Error("Too many requests, try again later"))).toMatchObject({ retry: true });
    expect(classifyCloudflareError(new Error("something odd"))).toMatchObject({ retry: true });
  });

  it("returns the mapped error when the binding throws", async () => {
    const binding = {
      send: async () => {
        throw coded("E_RECIPIENT_SUPPRESSED", "the recipient is suppressed");
      },
    } as unknown as SendEmail;
    const m = await composeEmail(job(), config(), Date.now(), 1);
    expect(await cloudflareTransport(binding).send(m)).toEqual({
      ok: false,
      retry: false,
      error: "Cloudflare e-mail: E_RECIPIENT_SUPPRESSED: the recipient is suppressed",
    });
  });
});
