import { z } from "zod";
import type { Action } from "../../src/engine/ports";

/**
 * A new action, as a plugin author writes one: this file, and a line in a registry. It records a "stamp" per record
 * in its own list, defers records whose field `hold` is true (without counting an attempt) and fails those without a
 * `name`.
 */
export const stamped: { recordId: string; label: string }[] = [];

export const stampAction: Action<{ label: string }> = {
  name: "stamp",
  settings: z.object({ label: z.string().min(1, "must not be empty") }).strict(),
  async execute(jobs, { now }) {
    return jobs.map((job) => {
      if (job.record.fields.hold === true) return { status: "deferred", reason: "on hold", until: now + 60_000 };
      if (typeof job.record.fields.name !== "string") return { status: "failed", error: "no name to stamp" };
      stamped.push({ recordId: job.record.id, label: job.activity.settings.label });
      return { status: "done" };
    });
  },
};
