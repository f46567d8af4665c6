import { z } from "zod";
import { mapConcurrent } from "../concurrency";
import { errorMessage } from "../engine/action";
import type { Action, ActionJob, ActionOutcome } from "../engine/ports";
import { type Bindings, getConfig } from "../env";
import { invalid } from "../errors";
import { retryAfterMs } from "../mail/mailchannels";
import { privateHostReason } from "./private-address";

const WebhookSettings = z
  .object({
    url: z
      .string()
      .max(2000)
      .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "must be an http(s) URL")
      .refine((u) => !URL.canParse(u) || (!new URL(u).username && !new URL(u).password), "must not hold credentials"),
    timeout_seconds: z.number().int().min(1).max(30).default(10),
  })
  .strict();
export type WebhookSettings = z.infer<typeof WebhookSettings>;

/** Calls under way at once: Workers allow six open connections an invocation. */
const CONCURRENCY = 6;

/** Why the URL is refused under this configuration, or null. */
function refusal(url: string, env: Bindings): string | null {
  if (getConfig(env).webhook.allowPrivate) return null;
  const reason = privateHostReason(new URL(url));
  return reason && `refused: ${reason}; WEBHOOK_ALLOW_PRIVATE=1 allows it, for local development and tests only`;
}

/** The JSON body: the record, its party, the scenario and the activity. */
export function webhookPayload(job: ActionJob<WebhookSettings>, now: number) {
  return {
    id: String(job.recordActivityId),
    attempt: job.attempt,
    sent_at: new Date(now).toISOString(),
    scenario: { id: String(job.scenario.id), name: job.scenario.name },
    activity: { id: String(job.activity.id), name: job.activity.name },
    scenario_record_id: String(job.scenarioRecord.id),
    record: { model: job.record.model, id: job.record.id, fields: job.record.fields },
    party: job.party,
  };
}

/** `sha256=` + hex HMAC-SHA256 of `<timestamp>.<body>` under the secret. */
export async function webhookSignature(secret: string, timestamp: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${timestamp}.${body}`));
  return `sha256=${[...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * `webhook`: POSTs a signed JSON payload to `settings.url`. 2xx is done; 408, 425, 429 and 5xx, a timeout or a
 * network error are retried by the engine with backoff (no sooner than `Retry-After`); a redirect or another 4xx
 * fails. Private, loopback and link-local addresses are refused unless WEBHOOK_ALLOW_PRIVATE is set. The receiver
 * checks `X-Webhook-Signature` and dedupes on `X-Webhook-Id` (the same for every attempt). See docs/engine.md.
 */
export const webhook: Action<WebhookSettings> = {
  name: "webhook",
  settings: WebhookSettings,
  validate(settings, env) {
    const refused = refusal(settings.url, env);
    if (refused) throw invalid(`settings.url: ${refused}`);
  },
  async execute(jobs, { engine, now }) {
    const secret = getConfig(engine.env).webhook.secret;
    if (!secret) {
      const error = "configuration: WEBHOOK_SECRET is not set (webhook payloads are signed)";
      return jobs.map((): ActionOutcome => ({ status: "retry", error, retryAfterMs: null }));
    }
    return mapConcurrent(jobs, CONCURRENCY, (job) => call(job, secret, engine.env, now));
  },
};

async function call(
  job: ActionJob<WebhookSettings>,
  secret: string,
  env: Bindings,
  now: number,
): Promise<ActionOutcome> {
  const { url, timeout_seconds: timeout } = job.activity.settings;
  const refused = refusal(url, env);
  if (refused) return { status: "failed", error: refused };
  const body = JSON.stringify(webhookPayload(job, now));
  const timestamp = String(Math.floor(now / 1000));
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(timeout * 1000),
      headers: {
        "content-type": "application/json",
        "user-agent": "marketing-automation-webhook/1",
        "x-webhook-id": String(job.recordActivityId),
        "x-webhook-timestamp": timestamp,
        "x-webhook-signature": await webhookSignature(secret, timestamp, body),
      },
      body,
    });
  } catch (err) {
    const timedOut = err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError");
    const error = timedOut ? `webhook timed out after ${timeout} s` : `webhook unreachable: ${errorMessage(err)}`;
    return { status: "retry", error, retryAfterMs: null };
  }
  const text = (await res.text().catch(() => "")).trim().slice(0, 200);
  const answered = `webhook answered ${res.status}${text ? `: ${text}` : ""}`;
  if (res.status >= 200 && res.status < 300) return { status: "done" };
  if (res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500) {
    return { status: "retry", error: answered, retryAfterMs: retryAfterMs(res.headers.get("retry-after"), now) };
  }
  if (res.status >= 300 && res.status < 400)
    return { status: "failed", error: `${answered} (redirects are not followed)` };
  return { status: "failed", error: answered };
}
