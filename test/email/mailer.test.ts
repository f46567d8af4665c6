import PostalMime from "postal-mime";
import { afterEach, describe, expect, it, vi } from "vitest";
import { batchKey, getBody } from "../../src/email/bodies";
import { messageIdOf } from "../../src/email/columns";
import { unpackLinkUrls } from "../../src/email/link-urls";
import { createMailer } from "../../src/email/mailer";
import type { Bindings } from "../../src/env";
import { AppError } from "../../src/errors";
import { BASE, bindings, emailRow, job } from "./fixtures";

const SECRET = bindings.TRACKING_SECRET as string;

const linkRows = (emailId: number) =>
  bindings.DB.prepare("SELECT * FROM links WHERE email_id = ? ORDER BY kind, key")
    .bind(emailId)
    .all<{ key: string; kind: string; email_id: number; record_activity_id: number; url: string | null }>()
    .then((r) => r.results);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("sendBatch with the local transport", () => {
  it("archives, keeps the links' URLs with the e-mail and the bodies in R2, and returns one outcome per job in order", async () => {
    const now = Date.now();
    const ok = job({ attempt: 2 });
    const noParty = job({ party: null });
    const badTemplate = job({ template: "{{#broken}}" });
    const outcomes = await createMailer(bindings).sendBatch([ok, noParty, badTemplate], now);

    expect(outcomes[0]).toEqual({ status: "sent", emailId: expect.any(Number) });
    expect(outcomes[1]).toEqual({ status: "failed", error: "the party has no e-mail address", emailId: null });
    expect(outcomes[2]).toMatchObject({ status: "failed", emailId: null, error: expect.stringContaining("Unclosed") });

    const id = (outcomes[0] as { emailId: number }).emailId;
    const row = await emailRow(id);
    expect(row).toMatchObject({
      record_activity_id: ok.recordActivityId,
      scenario_id: 7,
      activity_id: 70,
      scenario_record_id: ok.scenarioRecord.id,
      to: '"Michael Scott" <michael@example.com>',
      from: '"Marketing" <marketing@example.com>',
      subject: "Hello Michael Scott",
      transport: "local",
      status: "sent",
      error: null,
      attempt: 2,
    });
    // The row keeps the batch's nonce; the object's key is derived from it and the row's created_at.
    expect(row?.body_key).toMatch(/^[0-9a-f]{12}$/);
    expect(row?.created_at).toBe(now);
    expect(await bindings.EMAIL_BODIES.head(batchKey(now, row?.body_key ?? ""))).not.toBeNull();
    expect(row?.sent_at).toBeGreaterThanOrEqual(now);
    // No row per link: the URLs live with the e-mail, and the keys are signed with its id.
    expect(await linkRows(id)).toEqual([]);
    expect(await unpackLinkUrls(row?.link_urls ?? null)).toEqual([`https://shop.example/cart/${ok.record.id}`]);
    expect(row?.headers).toBe("{}");

    const body = await getBody(bindings.EMAIL_BODIES, {
      bodyKey: row?.body_key ?? "",
      bodyOffset: row?.body_offset ?? null,
      bodyLength: row?.body_length ?? null,
      createdAt: row?.created_at ?? 0,
    });
    // The Message-ID is derived from the e-mail's id and the sender's domain: the row stores none.
    expect(row?.message_id).toBe("");
    const messageId = body?.headers?.["Message-ID"];
    expect(messageId).toMatch(new RegExp(`^<${id}\\.[A-Za-z0-9_-]{16}@example\\.com>$`));
    expect(await messageIdOf(SECRET, { id, from: row?.from ?? "", messageId: row?.message_id ?? "" })).toBe(messageId);
    expect(body?.headers?.["List-Unsubscribe"]).toBe(`<${BASE}/u/${ok.scenarioRecord.token}>`);
    const click = new RegExp(`${BASE}/l/(${id}-c0-[A-Za-z0-9_-]{16})"`).exec(body?.html ?? "")?.[1];
    const open = new RegExp(`${BASE}/o/(${id}-o0-[A-Za-z0-9_-]{16})\\.gif"`).exec(body?.html ?? "")?.[1];
    expect(click).toBeDefined();
    expect(open).toBeDefined();
    expect(body?.html).toContain(`href="${BASE}/l/${click}"`);
    expect(body?.html).toContain(`src="${BASE}/o/${open}.gif"`);
    expect(body?.text).toContain(`${BASE}/l/${click}`);
    const parsed = await PostalMime.parse(body?.raw ?? "");
    expect(parsed.messageId).toBe(messageId);

    const none = await bindings.DB.prepare("SELECT count(*) AS n FROM email_archive WHERE record_activity_id IN (?, ?)")
      .bind(noParty.recordActivityId, badTemplate.recordActivityId)
      .first<{ n: number }>();
    expect(none?.n).toBe(0);
  });

  it("keeps one archive row per attempt, each with its own keys", async () => {
    const first = job();
    const again = { ...first, attempt: 2 };
    const [a] = await createMailer(bindings).sendBatch([first], Date.now());
    const [b] = await createMailer(bindings).sendBatch([again], Date.now());
    const ids = [a, b].map((o) => (o as { emailId: number }).emailId);
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) {
      const row = await emailRow(id);
      const body = await getBody(bindings.EMAIL_BODIES, {
        bodyKey: row?.body_key ?? "",
        bodyOffset: row?.body_offset ?? null,
        bodyLength: row?.body_length ?? null,
        createdAt: row?.created_at ?? 0,
      });
      expect(body?.html).toContain(`/l/${id}-c0-`);
    }
    expect((await emailRow(ids[1] as number))?.attempt).toBe(2);
  });

  it("sends a large batch with a handful of D1 statements", async () => {
    const jobs = Array.from({ length: 150 }, () => job());
    const spy = vi.spyOn(bindings.DB, "batch");
    const prepare = vi.spyOn(bindings.DB, "prepare");
    const started = Date.now();
    const outcomes = await createMailer(bindings).sendBatch(jobs, Date.now());
    const elapsed = Date.now() - started;
    expect(outcomes.every((o) => o.status === "sent")).toBe(true);
    expect(new Set(outcomes.map((o) => (o as { emailId: number }).emailId)).size).toBe(150);
    expect(spy).toHaveBeenCalledTimes(2); // archive, then deliveries
    expect(prepare.mock.calls.length).toBeLessThanOrEqual(6); // with the reservation of the e-mails' ids
    const counts = await bindings.DB.prepare(
      `SELECT count(*) AS n, sum(status = 'sent') AS sent FROM email_archive
       WHERE record_activity_id IN (SELECT value FROM json_each(?))`,
    )
      .bind(JSON.stringify(jobs.map((j) => j.recordActivityId)))
      .first<{ n: number; sent: number }>();
    expect(counts).toEqual({ n: 150, sent: 150 });
    console.log(`150 e-mails through the local transport in ${elapsed} ms`);
    // All the bodies went to one R2 object; each one reads back alone with a ranged GET.
    const put = vi.spyOn(bindings.EMAIL_BODIES, "put");
    const more = await createMailer(bindings).sendBatch([job(), job(), job()], Date.now());
    expect(put).toHaveBeenCalledTimes(1);
    const rows = await Promise.all(more.map((o) => emailRow((o as { emailId: number }).emailId)));
    expect(new Set(rows.map((r) => r?.body_key)).size).toBe(1);
    const bodies = await Promise.all(
      rows.map((r) =>
        getBody(bindings.EMAIL_BODIES, {
          bodyKey: r?.body_key ?? "",
          bodyOffset: r?.body_offset ?? null,
          bodyLength: r?.body_length ?? null,
          createdAt: r?.created_at ?? 0,
        }),
      ),
    );
    expect(new Set(bodies.map((b) => b?.raw)).size).toBe(3);
    for (const [i, b] of bodies.entries()) {
      const r = rows[i];
      expect(b?.raw).toContain(await messageIdOf(SECRET, { id: r?.id ?? 0, from: r?.from ?? "", messageId: "" }));
    }
  });
});

describe("sendBatch failures", () => {
  const mailchannels = { ...bindings, MAIL_TRANSPORT: "mailchannels", MAILCHANNELS_API_KEY: "k" } as Bindings;

  it("archives a transport fault that may pass as retry, and a permanent one as failed; a 429 is deferred", async () => {
    let call = 0;
    vi.spyOn(globalThis, "fetch").mockImplementation(async () => {
      call++;
      if (call === 1) return new Response("busy", { status: 429, headers: { "retry-after": "60" } });
      if (call === 2) return new Response("Service Unavailable", { status: 503 });
      return new Response(JSON.stringify({ errors: ["bad recipient"] }), { status: 400 });
    });
    const jobs = [job(), job(), job()];
    // One at a time, so the answers come in the jobs' order.
    const outcomes: Awaited<ReturnType<ReturnType<typeof createMailer>["sendBatch"]>> = [];
    for (const j of jobs) outcomes.push(...(await createMailer(mailchannels).sendBatch([j], Date.now())));
    const before = Date.now();
    expect(outcomes[0]).toEqual({
      status: "deferred",
      reason: "waiting: the provider refused for now: MailChannels 429: busy",
      until: expect.any(Number),
      emailId: expect.any(Number),
    });
    expect((outcomes[0] as { until: number }).until - before).toBeGreaterThanOrEqual(60_000 - 5_000);
    expect(outcomes[1]).toMatchObject({
      status: "retry",
      retryAfterMs: null,
      error: "MailChannels 503: Service Unavailable",
    });
    expect(outcomes[2]).toMatchObject({ status: "failed", error: "MailChannels 400: bad recipient" });
    const rows = await Promise.all(outcomes.map((o) => emailRow((o as { emailId: number }).emailId)));
    expect(rows.map((r) => [r?.status, r?.transport, r?.sent_at])).toEqual([
      ["retry", "mailchannels", null],
      ["retry", "mailchannels", null],
      ["failed", "mailchannels", null],
    ]);
    expect(rows[2]?.error).toBe("MailChannels 400: bad recipient");
  });

  it("does not deliver an e-mail whose body could not be archived", async () => {
    const fetch = vi.spyOn(globalThis, "fetch");
    const broken = {
      ...mailchannels,
      EMAIL_BODIES: {
        put: async () => {
          throw new Error("R2 is down");
        },
      },
    } as unknown as Bindings;
    const [outcome] = await createMailer(broken).sendBatch([job()], Date.now());
    expect(outcome).toMatchObject({ status: "retry", error: "the bodies could not be archived: R2 is down" });
    expect(fetch).not.toHaveBeenCalled();
  });

  it("throws once for the batch when the transport is misconfigured", async () => {
    const noKey = { ...bindings, MAIL_TRANSPORT: "mailchannels" } as Bindings;
    const err = await createMailer(noKey)
      .sendBatch([job()], Date.now())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("misconfigured");
    expect((err as AppError).message).toBe(
      'configuration: MAILCHANNELS_API_KEY is required when MAIL_TRANSPORT is "mailchannels"',
    );
    const noBinding = { ...bindings, MAIL_TRANSPORT: "cloudflare", SEND_EMAIL: undefined } as unknown as Bindings;
    await expect(createMailer(noBinding).sendBatch([job()], Date.now())).rejects.toThrow(/SEND_EMAIL binding/);
  });
});
