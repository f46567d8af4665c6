import { z } from "zod";
import type { EmailJob, Mailer } from "../email/job";
import { emailOfRecordActivity, inJsonIds } from "../email/of-record-activity";
import { openTracking } from "../email/rewrite";
import type { Action, ActionOutcome } from "../engine/ports";

const required = 'required when action is "send_email"';
const template = z.string({ error: required }).refine((s) => s.trim().length > 0, required);

/** The e-mail an activity sends: its `email_*` fields (templates are also checked to parse when saved). */
const SendEmailSettings = z.object({
  email_from: z.string().nullable(),
  email_title: template,
  email_template: template,
  /** Checked when saved (templates parse); the party's `lang` picks one when sending. */
  email_translations: z
    .record(z.string(), z.object({ email_title: z.string(), email_template: z.string() }))
    .nullable()
    .default(null),
  /** Whether the e-mail carries the open pixel: `settings.open_tracking`, else `openTracking`'s default. */
  open_tracking: z.boolean().default(true),
});
export type SendEmailSettings = z.infer<typeof SendEmailSettings>;

/**
 * `send_email`: renders and sends the activity's e-mail to the record's party through the mailer (see docs/email.md).
 * A claim taken over from a dead Worker may already have delivered its e-mail: it is never sent twice. The mailer is
 * given by the composition root (src/services.ts), which builds it when the action first sends.
 */
export const sendEmail = (mailer: () => Mailer): Action<SendEmailSettings> => ({
  name: "send_email",
  settings: SendEmailSettings,
  readSettings: (a) => ({
    email_from: a.emailFrom,
    email_title: a.emailTitle,
    email_template: a.emailTemplate,
    email_translations: a.emailTranslations ?? null,
    open_tracking: openTracking(a),
  }),
  settingsPrefix: "",
  async execute(jobs, { engine, now, claimKey }) {
    const { results } = await engine.d1
      .prepare(
        `SELECT m.record_activity_id AS id FROM email_archive m
         WHERE m.status = 'sent' AND ${emailOfRecordActivity("m", inJsonIds("?1"))}`,
      )
      .bind(JSON.stringify(jobs.map((j) => j.recordActivityId)))
      .all<{ id: number }>();
    const sent = new Set(results.map((r) => r.id));
    const outcomes: ActionOutcome[] = jobs.map(() => ({ status: "done" }));
    const toSend = jobs.map((job, index) => ({ job, index })).filter(({ job }) => !sent.has(job.recordActivityId));
    if (toSend.length === 0) return outcomes;
    const emails: EmailJob[] = toSend.map(({ job }) => ({
      recordActivityId: job.recordActivityId,
      attempt: job.attempt,
      scenario: job.scenario,
      activity: {
        id: job.activity.id,
        name: job.activity.name,
        emailFrom: job.activity.settings.email_from,
        emailTitle: job.activity.settings.email_title,
        emailTemplate: job.activity.settings.email_template,
        emailTranslations: job.activity.settings.email_translations,
        openTracking: job.activity.settings.open_tracking,
      },
      scenarioRecord: job.scenarioRecord,
      record: job.record,
      party: job.party,
    }));
    const delivered = await mailer().sendBatch(emails, now, claimKey);
    toSend.forEach(({ index }, i) => {
      const r = delivered[i];
      if (!r) outcomes[index] = { status: "retry", error: "the mailer gave no outcome", retryAfterMs: null };
      else if (r.status === "sent") outcomes[index] = { status: "done", emailId: r.emailId };
      else if (r.status === "failed") outcomes[index] = { status: "failed", error: r.error };
      else if (r.status === "deferred") outcomes[index] = { status: "deferred", reason: r.reason, until: r.until };
      else outcomes[index] = { status: "retry", error: r.error, retryAfterMs: r.retryAfterMs };
    });
    return outcomes;
  },
});
