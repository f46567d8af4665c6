import type { Mailer } from "../engine/mailer";
import type { Bindings } from "../env";

/** Placeholder until the e-mail module lands: every send is refused as a permanent failure. */
export function createMailer(_env: Bindings): Mailer {
  return {
    async sendBatch(jobs) {
      return jobs.map(() => ({ status: "failed" as const, error: "e-mail sending is not available", emailId: null }));
    },
  };
}
