import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { jsonBytes } from "../../src/db/chunk";
import {
  packDeliveryEvents,
  QUEUE_MESSAGE_BYTES,
  QUEUE_SEND_BYTES,
  QUEUE_SEND_MESSAGES,
} from "../../src/queues/delivery-events";
import { eventually, fetchWith, postEvents, sentEmails, webhookSigner } from "../deliveries/fixtures";
import { api } from "../helpers";

const stored = async (prefix: string) =>
  (
    await env.DB.prepare("SELECT count(*) AS n FROM delivery_events WHERE event_id LIKE ?")
      .bind(`${prefix}%`)
      .first<{ n: number }>()
  )?.n ?? 0;

describe("bursts of delivery events are packed by bytes under Queues' limits and stored whole", () => {
  it("packs long events into messages under 128 KB and sends under 100 messages and 256 KB", () => {
    const events = Array.from({ length: 5_000 }, (_, i) => ({
      eventId: `p-${i}`,
      kind: "hard_bounce" as const,
      provider: "api",
      at: 1,
      detail: "é".repeat(1000),
      emailId: 1,
      recordActivityId: 1,
      address: "someone@example.com",
    }));
    const sends = packDeliveryEvents(events);
    expect(sends.flat().flatMap((m) => m.body)).toHaveLength(events.length);
    for (const send of sends) {
      expect(send.length).toBeLessThanOrEqual(QUEUE_SEND_MESSAGES);
      expect(send.reduce((n, m) => n + jsonBytes(m.body), 0)).toBeLessThanOrEqual(QUEUE_SEND_BYTES);
      for (const m of send) expect(jsonBytes(m.body)).toBeLessThanOrEqual(QUEUE_MESSAGE_BYTES);
    }
  });

  it("1,000 signed MailChannels hard bounces with 200-character reasons are accepted and all recorded", async () => {
    const { emails } = await sentEmails("Burst webhook", { bw: "burst-webhook@example.com" });
    const signer = await webhookSigner();
    const reason = "r".repeat(200);
    const body = JSON.stringify(
      Array.from({ length: 1000 }, (_, i) => ({
        event: "hard-bounced",
        request_id: emails.bw?.provider_message_id,
        recipients: [`burst-webhook@example.com`],
        timestamp: 1_700_000_000 + i,
        status: "5.1.1",
        reason,
      })),
    );
    const res = await fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: signer.keys }, "/webhooks/mailchannels", {
      method: "POST",
      headers: await signer.sign(body),
      body,
    });
    expect(res.status, await res.clone().text()).toBe(202);
    await eventually(async () => (await stored("mailchannels:")) === 1000, 60_000);
    const s = await api("GET", "/suppressions/burst-webhook@example.com");
    expect(s.body).toMatchObject({ reason: "hard_bounce" });
  });

  it("a 5 MB burst of events with 1,000-character details through the API is stored whole", async () => {
    const { emails } = await sentEmails("Burst api", { ba: "burst-api@example.com" });
    const events = Array.from({ length: 5_000 }, (_, i) => ({
      id: `burst5-${i}`,
      kind: "soft_bounce",
      email_id: emails.ba?.id,
      detail: `${i} ${"d".repeat(990)}`,
    }));
    expect(JSON.stringify({ events }).length).toBeGreaterThan(5_000_000);
    const res = await postEvents(events);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(202);
    expect(res.body.accepted).toBe(5_000);
    await eventually(async () => (await stored("burst5-")) === 5_000, 120_000);
  }, 180_000);
});
