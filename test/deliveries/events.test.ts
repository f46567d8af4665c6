import { describe, expect, it } from "vitest";
import { api, expectError, ok } from "../helpers";
import { eventsOf, eventually, fetchWith, postEvents, sentEmails, webhookSigner } from "./fixtures";

const suppression = async (address: string) => {
  const res = await api("GET", `/suppressions/${encodeURIComponent(address)}`);
  return res.status === 200 ? res.body : null;
};

describe("delivery events through the generic API", () => {
  it("records each kind on its e-mail, through the queue, and suppresses on hard bounce, complaint and unsubscribe", async () => {
    const parties = {
      del: "del@example.com",
      soft: "soft@example.com",
      hard: "hard@example.com",
      spam: "spam@example.com",
      drop: "drop@example.com",
      unsub: "unsub@example.com",
    };
    const { emails } = await sentEmails("Kinds", parties);
    const kinds = {
      del: "delivered",
      soft: "soft_bounce",
      hard: "hard_bounce",
      spam: "complaint",
      drop: "rejected",
      unsub: "unsubscribe",
    };
    const events = Object.entries(kinds).map(([p, kind]) => ({
      id: `kinds-${p}`,
      kind,
      provider_message_id: emails[p]?.provider_message_id,
      detail: `${kind} detail`,
    }));
    const res = await postEvents(events);
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    expect(res.body).toEqual({ accepted: 6, recorded: null });
    for (const [p, kind] of Object.entries(kinds)) {
      const recorded = await eventually(async () => (await eventsOf(emails[p]?.id as string))[0]);
      expect(recorded).toMatchObject({ kind, event_id: `kinds-${p}`, detail: `${kind} detail` });
    }
    expect(await suppression("hard@example.com")).toMatchObject({ reason: "hard_bounce" });
    expect(await suppression("spam@example.com")).toMatchObject({ reason: "complaint" });
    expect(await suppression("unsub@example.com")).toMatchObject({ reason: "unsubscribe" });
    for (const a of ["del@example.com", "soft@example.com", "drop@example.com"])
      expect(await suppression(a)).toBeNull();
  });

  it("finds an e-mail by its archive id too, and the same event twice changes nothing", async () => {
    const { emails } = await sentEmails("Twice", { twice: "twice@example.com" });
    const id = emails.twice?.id as string;
    const event = { id: "twice-1", kind: "hard_bounce", email_id: id };
    expect((await postEvents([event])).status).toBe(202);
    await eventually(async () => (await eventsOf(id)).length === 1);
    // Lifted by hand: the same event delivered again must not put it back.
    await api("DELETE", "/suppressions/twice@example.com");
    expect((await postEvents([event, event])).status).toBe(202);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await eventsOf(id)).toHaveLength(1);
    expect(await suppression("twice@example.com")).toBeNull();
  });

  it("soft bounces suppress after SOFT_BOUNCE_LIMIT (3) of them, each event counted once", async () => {
    const { emails } = await sentEmails("Soft", { softy: "softy@example.com" });
    const pid = emails.softy?.provider_message_id;
    for (const n of [1, 2, 2]) await postEvents([{ id: `soft-${n}`, kind: "soft_bounce", provider_message_id: pid }]);
    await eventually(async () => (await eventsOf(emails.softy?.id as string)).length === 2);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await suppression("softy@example.com")).toBeNull();
    await postEvents([{ id: "soft-3", kind: "soft_bounce", provider_message_id: pid }]);
    const s = await eventually(() => suppression("softy@example.com"));
    expect(s).toMatchObject({ reason: "soft_bounces", source: "3 soft bounces" });
  });

  it("refuses unknown kinds, unknown e-mails and malformed events, naming the field, and records nothing", async () => {
    const { emails } = await sentEmails("Bad", { bad: "bad@example.com" });
    const pid = emails.bad?.provider_message_id;
    expectError(await postEvents([{ id: "b1", kind: "bounced", provider_message_id: pid }]), 400, "events[0].kind");
    expectError(
      await postEvents([
        { id: "b2", kind: "hard_bounce", provider_message_id: pid },
        { id: "b3", kind: "hard_bounce", provider_message_id: "nobody-sent-this" },
      ]),
      404,
      "events[1].provider_message_id",
      "nothing was recorded",
    );
    expectError(await postEvents([{ id: "b4", kind: "delivered" }]), 400, "events[0]");
    expectError(await postEvents([]), 400, "events");
    expectError(
      await api(
        "POST",
        "/deliveries/events",
        { events: [{ id: "x", kind: "delivered", email_id: "1" }] },
        { token: null },
      ),
      401,
    );
    await new Promise((r) => setTimeout(r, 1200));
    expect(await eventsOf(emails.bad?.id as string)).toEqual([]);
    expect(await suppression("bad@example.com")).toBeNull();
  });
});

describe("the MailChannels webhook", () => {
  const mcBody = (requestId: string, event: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify([
      {
        email: "marketing@example.com",
        customer_handle: "acct",
        timestamp: Math.floor(Date.now() / 1000),
        event,
        request_id: requestId,
        ...extra,
      },
    ]);

  it("verifies the Ed25519 signature and records every kind MailChannels sends", async () => {
    const signer = await webhookSigner();
    const parties = {
      mdel: "mdel@example.com",
      msoft: "msoft@example.com",
      mhard: "mhard@example.com",
      mspam: "mspam@example.com",
      mdrop: "mdrop@example.com",
      munsub: "munsub@example.com",
    };
    const { emails } = await sentEmails("MailChannels kinds", parties);
    const types = {
      mdel: "delivered",
      msoft: "soft-bounced",
      mhard: "hard-bounced",
      mspam: "complained",
      mdrop: "dropped",
      munsub: "unsubscribed",
    };
    const expected = {
      mdel: "delivered",
      msoft: "soft_bounce",
      mhard: "hard_bounce",
      mspam: "complaint",
      mdrop: "rejected",
      munsub: "unsubscribe",
    };
    const body = JSON.stringify([
      ...Object.entries(types).map(([p, event]) => ({
        email: "marketing@example.com",
        customer_handle: "acct",
        timestamp: Math.floor(Date.now() / 1000),
        event,
        request_id: emails[p]?.provider_message_id,
        recipients: [parties[p as keyof typeof parties]],
        status: "5.1.1",
        reason: "mailbox unavailable",
      })),
      { email: "marketing@example.com", customer_handle: "acct", timestamp: 1, event: "processed", request_id: "x" },
    ]);
    const res = await fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: signer.keys }, "/webhooks/mailchannels", {
      method: "POST",
      headers: await signer.sign(body),
      body,
    });
    expect(res.status, await res.clone().text()).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: 6, ignored: 1 });
    for (const [p, kind] of Object.entries(expected)) {
      const ev = await eventually(async () => (await eventsOf(emails[p]?.id as string))[0]);
      expect(ev).toMatchObject({ kind, detail: "5.1.1 mailbox unavailable" });
      expect(ev.event_id).toMatch(/^mailchannels:[0-9a-f]{32}$/);
    }
    expect(await suppression("mhard@example.com")).toMatchObject({ reason: "hard_bounce" });
    expect(await suppression("mspam@example.com")).toMatchObject({ reason: "complaint" });
    // MailChannels retries a delivery it thinks failed: the same body is the same events.
    const again = await fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: signer.keys }, "/webhooks/mailchannels", {
      method: "POST",
      headers: await signer.sign(body),
      body,
    });
    expect(again.status).toBe(202);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await eventsOf(emails.mhard?.id as string)).toHaveLength(1);
  });

  it("refuses a bad signature, another key, a changed body, an old signature, and an unsigned request", async () => {
    const signer = await webhookSigner();
    const other = await webhookSigner();
    const { emails } = await sentEmails("MailChannels refused", { mref: "mref@example.com" });
    const body = mcBody(emails.mref?.provider_message_id as string, "hard-bounced");
    const post = (headers: Record<string, string>, b = body) =>
      fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: signer.keys }, "/webhooks/mailchannels", {
        method: "POST",
        headers,
        body: b,
      });
    const refused = async (res: Response, fragment: string) => {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain(fragment);
    };
    await refused(await post(await other.sign(body)), "does not verify");
    await refused(await post(await signer.sign(body), body.replace("hard-bounced", "delivered")), "Content-Digest");
    const tampered = await signer.sign(body.replace("hard-bounced", "delivered"), { digestOf: body });
    await refused(await post(tampered, body.replace("hard-bounced", "delivered")), "Content-Digest");
    await refused(await post(await signer.sign(body, { created: Math.floor(Date.now() / 1000) - 3600 })), "too old");
    await refused(await post({ "content-type": "application/json" }), "not signed");
    const noKeys = await fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: "" }, "/webhooks/mailchannels", {
      method: "POST",
      headers: await signer.sign(body),
      body,
    });
    expect(noKeys.status).toBe(500);
    expect(await noKeys.text()).toContain("MAILCHANNELS_WEBHOOK_KEYS");
    await new Promise((r) => setTimeout(r, 1200));
    expect(await eventsOf(emails.mref?.id as string)).toEqual([]);
    expect(await suppression("mref@example.com")).toBeNull();
  });

  it("refuses an unknown event type and an unknown request id with a 4xx, recording nothing", async () => {
    const signer = await webhookSigner();
    const { emails } = await sentEmails("MailChannels unknown", { munk: "munk@example.com" });
    const post = async (b: string) =>
      fetchWith({ MAILCHANNELS_WEBHOOK_KEYS: signer.keys }, "/webhooks/mailchannels", {
        method: "POST",
        headers: await signer.sign(b),
        body: b,
      });
    const unknownType = await post(mcBody(emails.munk?.provider_message_id as string, "exploded"));
    expect(unknownType.status).toBe(400);
    expect(await unknownType.text()).toContain('[0].event: unknown MailChannels event type \\"exploded\\"');
    const unknownRequest = await post(mcBody("not-ours", "hard-bounced"));
    expect(unknownRequest.status).toBe(404);
    expect(await unknownRequest.text()).toContain("[0].request_id");
    await new Promise((r) => setTimeout(r, 1200));
    expect(await eventsOf(emails.munk?.id as string)).toEqual([]);
  });
});

describe("the suppression list API", () => {
  it("adds (normalized, idempotent), lists, reads and removes entries; bad addresses are a 400 naming the field", async () => {
    const added = await api("POST", "/suppressions", { address: "Jim@Bücher.Example", source: "imported" });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ address: "jim@xn--bcher-kva.example", reason: "manual", source: "imported" });
    const again = await api("POST", "/suppressions", { address: "jim@xn--bcher-kva.example", reason: "complaint" });
    expect(again.status).toBe(200);
    expect(again.body.reason).toBe("manual");
    const list = await ok("GET", "/suppressions?limit=500");
    expect(list.items.map((s: { address: string }) => s.address)).toContain("jim@xn--bcher-kva.example");
    expect(
      (await ok("GET", "/suppressions?reason=manual")).items.every((s: { reason: string }) => s.reason === "manual"),
    ).toBe(true);
    expectError(await api("POST", "/suppressions", { address: "not an address" }), 400, "address");
    expectError(await api("POST", "/suppressions", { address: "a@b.example", reason: "bored" }), 400, "reason");
    expect((await api("DELETE", "/suppressions/JIM@xn--bcher-kva.example")).status).toBe(204);
    expectError(await api("DELETE", "/suppressions/jim@xn--bcher-kva.example"), 404);
    expectError(await api("GET", "/suppressions", undefined, { token: null }), 401);
  });
});
