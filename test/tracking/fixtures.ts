import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { packLinkUrls } from "../../src/email/link-urls";
import type { Bindings } from "../../src/env";
import { randomHex, randomKey } from "../../src/ids";
import worker from "../../src/index";
import { signKey } from "../../src/signing/keys";

export const ORIGIN = "https://ma.example";
export const CHROME =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

async function insert(sql: string, ...values: unknown[]): Promise<number> {
  const result = await env.DB.prepare(sql)
    .bind(...values)
    .run();
  return result.meta.last_row_id;
}

export interface Sent {
  scenarioId: number;
  sendActivityId: number;
  scenarioRecordId: number;
  recordActivityId: number;
  emailId: number;
  partyId: string;
  token: string;
  clickKey: string;
  openKey: string;
  url: string;
  /** Child activities waiting for the e-mail's events, and their record activities. */
  children: { opened: number; clicked: number; notClicked: number };
}

/**
 * A running scenario with a send_email activity that has sent one e-mail to one party: the scenario record (with its
 * token), the done record activity, the e-mail (sent `sentAgoMs` ago, or still sending when null), a click link and
 * the open pixel's key. Children on email_opened / email_clicked wait with no `at`; email_not_clicked waits due in a day.
 */
export async function sentEmail(
  options: {
    lang?: string;
    scenarioName?: string;
    unsubscribable?: boolean;
    sentAgoMs?: number | null;
    status?: string;
  } = {},
): Promise<Sent> {
  const now = Date.now();
  const partyId = `p-${randomHex(6)}`;
  const fields = {
    name: "Michael Scott",
    email: "michael@example.com",
    ...(options.lang ? { lang: options.lang } : {}),
  };
  await insert(
    "INSERT INTO records (model, id, fields, party_id, created_at, updated_at) VALUES ('party', ?, ?, ?, ?, ?)",
    partyId,
    JSON.stringify(fields),
    partyId,
    now,
    now,
  );
  const scenarioId = await insert(
    `INSERT INTO scenarios (name, model, domain, unsubscribable, state, created_at, updated_at)
     VALUES (?, 'party', '[]', ?, 'running', ?, ?)`,
    options.scenarioName ?? "Spring newsletter",
    options.unsubscribable ? 1 : 0,
    now,
    now,
  );
  const activity = (parentId: number | null, on: string | null, action: string | null, delay: string | null) =>
    insert(
      `INSERT INTO activities (scenario_id, parent_id, name, "on", delay, action, email_title, email_template,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      scenarioId,
      parentId,
      on ?? "send",
      on,
      delay,
      action,
      action ? "Hello" : null,
      action ? "<p>Hello</p>" : null,
      now,
      now,
    );
  const sendActivityId = await activity(null, null, "send_email", null);
  const token = randomHex(16);
  const scenarioRecordId = await insert(
    `INSERT INTO scenario_records (scenario_id, model, record_id, party_id, blocked, token, created_at)
     VALUES (?, 'party', ?, ?, 0, ?, ?)`,
    scenarioId,
    partyId,
    partyId,
    token,
    now,
  );
  const recordActivity = (activityId: number, state: string, at: number | null) =>
    insert(
      `INSERT INTO record_activities (scenario_record_id, activity_id, scenario_id, shard, state, at, due_at,
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      scenarioRecordId,
      activityId,
      scenarioId,
      scenarioRecordId % 8,
      state,
      at,
      at,
      now,
      now,
    );
  const recordActivityId = await recordActivity(sendActivityId, "done", now - 60_000);
  // Delays of a day keep the children from running while the test looks at them.
  const openedChild = await activity(sendActivityId, "email_opened", null, "P1D");
  const clickedChild = await activity(sendActivityId, "email_clicked", null, "P1D");
  const notClickedChild = await activity(sendActivityId, "email_not_clicked", null, "P1D");
  const children = {
    opened: await recordActivity(openedChild, "waiting", null),
    clicked: await recordActivity(clickedChild, "waiting", null),
    notClicked: await recordActivity(notClickedChild, "waiting", now + 86_400_000),
  };
  const sentAt = options.sentAgoMs === null ? null : now - (options.sentAgoMs ?? 3_600_000);
  const emailId = await insert(
    `INSERT INTO emails (record_activity_id, scenario_id, activity_id, scenario_record_id, "to", "from", subject,
       message_id, headers, transport, status, body_key, attempt, sent_at, created_at)
     VALUES (?, ?, ?, ?, 'michael@example.com', 'marketing@example.com', 'Hello', ?, '{}', 'local', ?, ?, 1, ?, ?)`,
    recordActivityId,
    scenarioId,
    sendActivityId,
    scenarioRecordId,
    `<${randomHex(8)}@example.com>`,
    options.status ?? (sentAt === null ? "sending" : "sent"),
    `emails/${randomHex(8)}`,
    sentAt,
    now,
  );
  const url = `https://shop.example/spring?utm_source=mail&id=${randomHex(4)}`;
  const clickKey = await addLink("click", emailId, recordActivityId, url);
  const openKey = await addLink("open", emailId, recordActivityId, null);
  return {
    scenarioId,
    sendActivityId,
    scenarioRecordId,
    recordActivityId,
    emailId,
    partyId,
    token: `${scenarioRecordId}-${token}`,
    clickKey,
    openKey,
    url,
    children,
  };
}

/** Inserts a `links` row and returns its key. */
export async function addLink(
  kind: "click" | "open" | "next",
  emailId: number,
  recordActivityId: number,
  url: string | null,
): Promise<string> {
  const key = randomKey(12);
  await insert(
    "INSERT INTO links (key, kind, email_id, record_activity_id, url, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    key,
    kind,
    emailId,
    recordActivityId,
    url,
    Date.now(),
  );
  return key;
}

type HitInit = RequestInit & { cf?: Record<string, unknown>; env?: Partial<typeof env> };

/**
 * Calls the Worker's fetch handler directly and waits for its `waitUntil` work, so what a hit records can be read
 * right after. Browser-like by default (a Chrome user agent).
 */
export async function request(path: string, init: HitInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("user-agent")) headers.set("user-agent", CHROME);
  const { env: overrides, ...rest } = init;
  const ctx = createExecutionContext();
  const req = new Request(`${ORIGIN}${path}`, { ...rest, headers, redirect: "manual" } as RequestInit);
  const res = await worker.fetch(req, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export interface HitRow {
  kind: string;
  link_key: string | null;
  email_id: number | null;
  record_activity_id: number | null;
  scenario_id: number | null;
  activity_id: number | null;
  human: number;
  reason: string | null;
  client: string | null;
  at: number;
}

export async function hitsOf(recordActivityId: number): Promise<HitRow[]> {
  const { results } = await env.DB.prepare("SELECT * FROM hits WHERE record_activity_id = ? ORDER BY id")
    .bind(recordActivityId)
    .all<HitRow>();
  return results;
}

export async function recordActivity(id: number) {
  return env.DB.prepare("SELECT state, at, email_opened, email_clicked, reason FROM record_activities WHERE id = ?")
    .bind(id)
    .first<{ state: string; at: number | null; email_opened: number; email_clicked: number; reason: string | null }>();
}

/**
 * A sent e-mail with signed keys over `urls`: its URLs in `link_urls`, the keys computed as the rewriter would (each
 * call its own e-mail, so no cache holds its keys yet).
 */
export async function signedEmail(urls: string[], options: Parameters<typeof sentEmail>[0] = {}) {
  const sent = await sentEmail(options);
  await env.DB.prepare("UPDATE emails SET link_urls = ? WHERE id = ?")
    .bind(await packLinkUrls(urls), sent.emailId)
    .run();
  const secret = (env as unknown as Bindings).TRACKING_SECRET as string;
  const key = (kind: "click" | "open" | "next", position: number) =>
    signKey(secret, { emailId: sent.emailId, kind, position });
  return { ...sent, key };
}
