import { z } from "zod";
import { noteRecordWrites } from "../engine/enrollment/passes";
import type { Action, ActionOutcome } from "../engine/ports";
import { recordsWritten } from "../engine/records/record-changes";

const UpdateRecordSettings = z
  .object({
    fields: z
      .record(
        z
          .string()
          .min(1)
          .refine((k) => k !== "id", '"id" cannot be set: it names the record'),
        z.json(),
      )
      .refine((f) => Object.keys(f).length > 0, "must set at least one field"),
  })
  .strict();
export type UpdateRecordSettings = z.infer<typeof UpdateRecordSettings>;

/**
 * `update_record`: merges `settings.fields` into the record's fields (a JSON merge patch: `null` removes a field), so
 * a later condition, a goal, a wait-until or another scenario sees it. The record's party follows its party field.
 * Repeating it changes nothing more. The written records then enroll into the running scenarios they now match.
 */
export const updateRecord: Action<UpdateRecordSettings> = {
  name: "update_record",
  settings: UpdateRecordSettings,
  async execute(jobs, { engine, now }) {
    if (jobs.length === 0) return [];
    // Like a write through the API: the scenarios these records may now match owe a pass until they are enrolled.
    for (const model of new Set(jobs.map((job) => job.record.model))) await noteRecordWrites(engine, model, now);
    const statements = jobs.map((job) =>
      engine.d1
        .prepare(
          `UPDATE records SET
             fields = json_patch(fields, ?1),
             party_id = CASE WHEN model = 'party' THEN id ELSE (
               SELECT CAST(json_extract(json_patch(records.fields, ?1), '$."' || m.party_field || '"') AS TEXT)
               FROM models m WHERE m.name = records.model) END,
             updated_at = ?2
           WHERE model = ?3 AND id = ?4`,
        )
        .bind(JSON.stringify(job.activity.settings.fields), now, job.record.model, job.record.id),
    );
    const results = await engine.d1.batch(statements);
    const byModel = new Map<string, Set<string>>();
    for (const job of jobs) {
      const ids = byModel.get(job.record.model) ?? new Set<string>();
      ids.add(job.record.id);
      byModel.set(job.record.model, ids);
    }
    for (const [model, ids] of byModel) await recordsWritten(engine, model, [...ids]);
    return results.map(
      (r): ActionOutcome =>
        (r.meta.changes ?? 0) > 0 ? { status: "done" } : { status: "cancelled", reason: "the record was deleted" },
    );
  },
};
