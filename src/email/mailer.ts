import type { EmailJob, Mailer, SendOutcome } from "../engine/mailer";
import { type Bindings, type Config, getConfig } from "../env";
import { randomHex } from "../ids";
import { createTransport } from "../mail/registry";
import { errorMessage, type SendResult, type Transport } from "../mail/transport";
import {
  type Attempt,
  archiveAttempts,
  batchKey,
  type Delivery,
  packBodies,
  putBodies,
  recordDeliveries,
  reserveEmailIds,
} from "./archive";
import { type ComposedEmail, composeEmail } from "./compose";
import { ComposeError } from "./render";

type Delivered = Delivery & { retryAfterMs: number | null };

/** Deliveries under way at once: Workers allow six open connections an invocation, the rest wait their turn. */
export const DELIVERY_CONCURRENCY = 8;

/**
 * The e-mail module behind the engine's Mailer. For a batch: reserve the archive rows' ids (the tracking keys name
 * them), compose every e-mail (no I/O), archive every attempt with its links' URLs in one D1 batch, put all the bodies in one R2 object, deliver (a few at a time), and record how each went
 * in one more statement. The configuration is checked when a batch starts: a misconfigured transport throws
 * once for the batch (the engine retries it with that reason), never per e-mail.
 */
export function createMailer(env: Bindings): Mailer {
  return {
    async sendBatch(jobs, now) {
      const config = getConfig(env);
      const transport = createTransport(env, config);
      const outcomes: SendOutcome[] = new Array(jobs.length);
      const composedJobs: { id: number; job: EmailJob; email: ComposedEmail; index: number }[] = [];
      // The keys written into each e-mail name its archive row, so the rows' ids are taken before composing.
      const firstId = await reserveEmailIds(env.DB, jobs.length);
      const composed = await Promise.all(jobs.map((job, i) => composeOrFail(job, config, now, firstId + i)));
      composed.forEach((email, index) => {
        const job = jobs[index] as EmailJob;
        if (typeof email === "string") outcomes[index] = { status: "failed", error: email, emailId: null };
        else composedJobs.push({ id: firstId + index, job, email, index });
      });
      if (composedJobs.length === 0) return outcomes;

      const packed = packBodies(
        composedJobs.map(({ email }) => ({
          html: email.html,
          text: email.text,
          raw: email.raw,
          headers: email.headers,
        })),
      );
      const attempts: (Attempt & { index: number })[] = composedJobs.map((c, i) => ({
        ...c,
        body: packed.ranges[i] as Attempt["body"],
      }));
      const objectKey = batchKey(now, randomHex(6));
      const ids = await archiveAttempts(env.DB, attempts, transport.name, now, objectKey);
      let deliveries: Delivered[];
      try {
        await putBodies(env.EMAIL_BODIES, objectKey, packed.bytes);
        deliveries = await mapConcurrent(attempts, DELIVERY_CONCURRENCY, ({ email }, i) =>
          deliver(transport, ids[i] as number, email),
        );
      } catch (err) {
        // A body that cannot be archived is not sent: it could never be read back. The batch is retried.
        const error = `the bodies could not be archived: ${errorMessage(err)}`;
        deliveries = ids.map((id) => delivery(id, { ok: false, retry: true, error }));
      }
      try {
        await recordDeliveries(env.DB, deliveries);
      } catch (err) {
        // What was delivered must not be delivered again: the outcomes still go back to the engine, which records them.
        console.error("the e-mail archive could not record deliveries", err);
      }
      attempts.forEach(({ index }, i) => {
        outcomes[index] = outcomeOf(deliveries[i] as Delivered);
      });
      return outcomes;
    },
  };
}

async function deliver(transport: Transport, id: number, email: ComposedEmail): Promise<Delivered> {
  let result: SendResult;
  try {
    result = await transport.send(email);
  } catch (err) {
    result = { ok: false, retry: true, error: errorMessage(err) };
  }
  return delivery(id, result);
}

function delivery(id: number, r: SendResult): Delivered {
  if (r.ok) return { id, status: "sent", error: null, sentAt: Date.now(), retryAfterMs: null };
  const retryAfterMs = r.retryAfterMs ?? null;
  return { id, status: r.retry ? "retry" : "failed", error: r.error, sentAt: null, retryAfterMs };
}

/** The composed e-mail, or the reason it cannot be (a permanent failure). */
async function composeOrFail(
  job: EmailJob,
  config: Config,
  now: number,
  emailId: number,
): Promise<ComposedEmail | string> {
  try {
    return await composeEmail(job, config, now, emailId);
  } catch (err) {
    if (err instanceof ComposeError) return err.message;
    return `the e-mail cannot be composed: ${errorMessage(err)}`;
  }
}

function outcomeOf(d: Delivered): SendOutcome {
  if (d.status === "sent") return { status: "sent", emailId: d.id };
  if (d.status === "retry") {
    return { status: "retry", error: d.error ?? "", retryAfterMs: d.retryAfterMs, emailId: d.id };
  }
  return { status: "failed", error: d.error ?? "", emailId: d.id };
}

/** Runs `fn` over the items with at most `limit` at once; results in the items' order. */
export async function mapConcurrent<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
