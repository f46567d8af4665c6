import { mapConcurrent } from "../concurrency";
import { type Bindings, type Config, getConfig } from "../env";
import { createTransport } from "../mail/registry";
import { errorMessage, type SendResult, type Transport } from "../mail/transport";
import {
  type Attempt,
  archiveBeforeDelivery,
  archiveRows,
  type Delivery,
  recordDeliveries,
  TAKEN_OVER_BEFORE_DELIVERY,
} from "./archive";
import { chooseEmailIds } from "./archive-ids";
import { batchKey, batchNonce, packBodies, putBodies } from "./bodies";
import { type ComposedEmail, composeEmail } from "./compose";
import type { DeliveryJournal, EmailJob, Mailer, SendOutcome } from "./job";
import { ComposeError } from "./render";
import { reserveSends } from "./send-rate";

type Delivered = Delivery & { retryAfterMs: number | null; quota: boolean };

/** Deliveries under way at once: Workers allow six open connections an invocation, the rest wait their turn. */
export const DELIVERY_CONCURRENCY = 8;
/** How long a batch holds an e-mail for its turn under the send rate; later turns are deferred, not held. */
export const THROTTLE_MAX_WAIT_MS = 5_000;
/** A 429 or quota answer without Retry-After waits this long. */
const QUOTA_WAIT_MS = 60_000;

/** What a mailer is built with besides the bindings. */
export interface MailerPorts {
  /** Where each attempt and its answer are written as they happen (the Scheduler object's storage); none by default. */
  journal?: DeliveryJournal;
  /** The transport, instead of the one the configuration names (tests). */
  transport?: Transport;
}

/**
 * The e-mail module's Mailer. For a batch: choose the archive rows' ids (the tracking keys name
 * them), compose every e-mail (no I/O), take their turns under the send rate, stage every attempt's archive row (with
 * its links' URLs) in the claim in one D1 batch, put all the bodies in one R2 object, deliver (a few at a time), and
 * record how each attempt went in the staged copy in one more D1 batch; the commit archives each (a first attempt on
 * its record activity's row, in the write that settles it). The configuration is
 * checked when a batch starts: a misconfigured transport throws
 * once for the batch (the engine retries it with that reason), never per e-mail.
 */
export function createMailer(env: Bindings, ports: MailerPorts = {}): Mailer {
  return {
    async sendBatch(jobs, now, claimKey) {
      const config = getConfig(env);
      const transport = ports.transport ?? createTransport(env, config);
      const journal = claimKey !== undefined && ports.journal ? { journal: ports.journal, claimKey } : null;
      const outcomes: SendOutcome[] = new Array(jobs.length);
      let composedJobs: { id: number; job: EmailJob; email: ComposedEmail; index: number }[] = [];
      // The keys written into each e-mail name its archive row, so the rows' ids are chosen before composing: a first
      // attempt's is its record activity's id (an id whose e-mail is then deferred or fails is left unused).
      const emailIds = await chooseEmailIds(
        env.DB,
        jobs.map((job) => job.recordActivityId),
        now,
      );
      const composed = await Promise.all(jobs.map((job, i) => composeOrFail(job, config, now, emailIds[i] as number)));
      composed.forEach((email, index) => {
        const job = jobs[index] as EmailJob;
        if (typeof email === "string") outcomes[index] = { status: "failed", error: email, emailId: null };
        else composedJobs.push({ id: emailIds[index] as number, job, email, index });
      });
      if (composedJobs.length === 0) return outcomes;

      // Under a send rate, each e-mail gets its turn from the transport's throttle (shared by all shards): the turns
      // within a few seconds are kept, the others wait (deferred, not an attempt) until the throttle's next turn.
      let slots: number[] | null = null;
      if (config.sendRatePerSecond !== null) {
        const rate = config.sendRatePerSecond;
        const turns = await reserveSends(env, transport.name, {
          count: composedJobs.length,
          ratePerSecond: rate,
          maxWaitMs: THROTTLE_MAX_WAIT_MS,
        }).catch((err) => ({ slots: [] as number[], nextFree: Date.now() + 1000, error: errorMessage(err) }));
        const reason =
          "error" in turns
            ? `waiting: the send throttle did not answer (${turns.error})`
            : `waiting for its turn under the send rate (${rate} a second)`;
        for (const c of composedJobs.slice(turns.slots.length)) {
          outcomes[c.index] = { status: "deferred", reason, until: turns.nextFree, emailId: null };
        }
        composedJobs = composedJobs.slice(0, turns.slots.length);
        slots = turns.slots;
        if (composedJobs.length === 0) return outcomes;
      }

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
      const nonce = batchNonce();
      const objectKey = batchKey(now, nonce);
      const rows = await archiveRows(attempts, transport.name, now, nonce);
      const { notHeld, staged } = await archiveBeforeDelivery(env.DB, rows, claimKey);
      const ids = rows.map((r) => r.id);
      let deliveries: Delivered[];
      try {
        await putBodies(env.EMAIL_BODIES, objectKey, packed.bytes);
        deliveries = await mapConcurrent(attempts, DELIVERY_CONCURRENCY, ({ email, job }, i) =>
          notHeld.has(job.recordActivityId)
            ? Promise.resolve(delivery(ids[i] as number, { ok: false, retry: true, error: TAKEN_OVER_BEFORE_DELIVERY }))
            : deliver(transport, ids[i] as number, email, slots?.[i] ?? null, journal, job.recordActivityId),
        );
      } catch (err) {
        // A body that cannot be archived is not sent: it could never be read back. The batch is retried.
        const error = `the bodies could not be archived: ${errorMessage(err)}`;
        deliveries = ids.map((id) => delivery(id, { ok: false, retry: true, error }));
      }
      try {
        // Not those of another claim now: its rows (under the same ids) are its own to archive.
        await recordDeliveries(
          env.DB,
          rows.filter((r) => !notHeld.has(r.ra)),
          deliveries,
          staged ? claimKey : undefined,
        );
      } catch (err) {
        // What was delivered must not be delivered again: the outcomes still go back to the engine, whose commit
        // archives the staged rows with them.
        console.error("the e-mail archive could not record deliveries", err);
      }
      attempts.forEach(({ index }, i) => {
        outcomes[index] = outcomeOf(deliveries[i] as Delivered);
      });
      return outcomes;
    },
  };
}

/**
 * One attempt: waits for its turn, tells the journal it is about to reach the transport, sends, and writes the answer
 * to the journal before anything else is sent, so that a crash leaves at most the attempts in flight unknown.
 */
async function deliver(
  transport: Transport,
  id: number,
  email: ComposedEmail,
  at: number | null,
  journal: { journal: DeliveryJournal; claimKey: string } | null,
  ra: number,
): Promise<Delivered> {
  if (at !== null && at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
  journal?.journal.trying(journal.claimKey, { id, ra });
  let result: SendResult;
  try {
    result = await transport.send(email);
  } catch (err) {
    result = { ok: false, retry: true, error: errorMessage(err) };
  }
  const d = { ...delivery(id, result), answeredAt: Date.now() };
  journal?.journal.answered(journal.claimKey, {
    id,
    st: d.status,
    err: d.error,
    sent: d.sentAt,
    pid: d.providerId,
    ans: d.answeredAt,
  });
  return d;
}

function delivery(id: number, r: SendResult): Delivered {
  if (r.ok) {
    return {
      id,
      status: "sent",
      error: null,
      sentAt: Date.now(),
      retryAfterMs: null,
      providerId: r.providerId,
      quota: false,
      answeredAt: null,
    };
  }
  const retryAfterMs = r.retryAfterMs ?? null;
  const status = r.retry ? "retry" : "failed";
  return {
    id,
    status,
    error: r.error,
    sentAt: null,
    retryAfterMs,
    providerId: null,
    quota: r.quota === true,
    answeredAt: null,
  };
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
  if (d.status === "retry" && d.quota) {
    // A rate or quota refusal: the e-mail waits for the provider, which is not a failed attempt.
    const until = Date.now() + (d.retryAfterMs ?? QUOTA_WAIT_MS);
    return {
      status: "deferred",
      reason: `waiting: the provider refused for now: ${d.error ?? ""}`,
      until,
      emailId: d.id,
    };
  }
  if (d.status === "retry") {
    return { status: "retry", error: d.error ?? "", retryAfterMs: d.retryAfterMs, emailId: d.id };
  }
  return { status: "failed", error: d.error ?? "", emailId: d.id };
}
