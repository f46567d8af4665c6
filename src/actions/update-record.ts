import { z } from "zod";
import { noteRecordWrites } from "../engine/enrollment/passes";
import type { Action, ActionJob, ActionOutcome } from "../engine/ports";
import { recordsWritten } from "../engine/records/record-changes";
import { fieldsShapeProblem, MAX_FIELDS_BYTES } from "../engine/records/records";

const utf8 = new TextEncoder();

const FieldsPatch = z
  .record(
    z
      .string()
      .min(1)
      .refine((k) => k !== "id", '"id" cannot be set: it names the record'),
    z.json(),
  )
  .refine((f) => Object.keys(f).length > 0, "must set at least one field")
  .superRefine((f, ctx) => {
    const bytes = utf8.encode(JSON.stringify(f)).length;
    if (bytes > MAX_FIELDS_BYTES) {
      ctx.addIssue({
        code: "custom",
        message: `takes ${bytes} bytes as JSON, more than a record's limit of ${MAX_FIELDS_BYTES}`,
      });
    }
  });

const UpdateRecordSettings = z
  .object({
    // What a record write refuses is refused at save, on the fields as sent (a parsed copy would have lost a
    // `__proto__` key already): such a key would never be applied, and nesting past the limit never stored.
    fields: z
      .unknown()
      .superRefine((raw, ctx) => {
        const shape = fieldsShapeProblem(raw);
        if (shape) {
          ctx.addIssue({ code: "custom", path: shape.at ? [shape.at] : [], message: shape.problem, continue: false });
        }
      })
      .pipe(FieldsPatch),
  })
  .strict();
export type UpdateRecordSettings = z.infer<typeof UpdateRecordSettings>;

/**
 * `update_record`: merges `settings.fields` into the record's fields (a JSON merge patch: `null` removes a field), so
 * a later condition, a goal, a wait-until or another scenario sees it. The record's party follows its party field.
 * Repeating it changes nothing more. The written records then enroll into the running scenarios they now match.
 * A patch that would take a record's fields past MAX_FIELDS_BYTES is not applied: that record activity fails with
 * the reason, once (a retry would fail the same way), and the record stays as it was.
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
           WHERE model = ?3 AND id = ?4 AND length(CAST(json_patch(fields, ?1) AS BLOB)) <= ?5`,
        )
        .bind(JSON.stringify(job.activity.settings.fields), now, job.record.model, job.record.id, MAX_FIELDS_BYTES),
    );
    const results = await engine.d1.batch(statements);
    // Not changed: the record was deleted, or the patch would take it past the size limit (then it says how far).
    const unchanged = jobs.filter((_, i) => (results[i]?.meta.changes ?? 0) === 0);
    const sizes = new Map<ActionJob<UpdateRecordSettings>, number>();
    if (unchanged.length > 0) {
      const found = await engine.d1.batch(
        unchanged.map((job) =>
          engine.d1
            .prepare(
              `SELECT length(CAST(json_patch(fields, ?1) AS BLOB)) AS bytes FROM records WHERE model = ?2 AND id = ?3`,
            )
            .bind(JSON.stringify(job.activity.settings.fields), job.record.model, job.record.id),
        ),
      );
      unchanged.forEach((job, i) => {
        const row = found[i]?.results[0] as { bytes: number } | undefined;
        if (row) sizes.set(job, row.bytes);
      });
    }
    const byModel = new Map<string, Set<string>>();
    for (const job of jobs) {
      const ids = byModel.get(job.record.model) ?? new Set<string>();
      ids.add(job.record.id);
      byModel.set(job.record.model, ids);
    }
    for (const [model, ids] of byModel) await recordsWritten(engine, model, [...ids]);
    return jobs.map((job, i): ActionOutcome => {
      if ((results[i]?.meta.changes ?? 0) > 0) return { status: "done" };
      const bytes = sizes.get(job);
      if (bytes === undefined) return { status: "cancelled", reason: "the record was deleted" };
      return {
        status: "failed",
        error: `update_record: the patch would take record ${job.record.model}/${job.record.id} to ${bytes} bytes of fields as JSON, more than the limit of ${MAX_FIELDS_BYTES}; the record was not changed`,
      };
    });
  },
};
