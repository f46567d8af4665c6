import { and, eq } from "drizzle-orm";
import { records } from "../../db/schema";
import { type EmailPreview, previewEmail } from "../../email/compose";
import { ComposeError } from "../../email/render";
import { getConfig } from "../../env";
import { invalid, notFound } from "../../errors";
import type { Engine } from "../ports";
import { getActivityRow } from "./activities";
import { getScenarioRow } from "./scenarios";

/**
 * Renders an activity's e-mail for one record as it would be sent now, without sending it and without writing
 * anything (no tracking keys, no archive row). 404 for an unknown activity or record, 400 when the activity does not
 * send an e-mail or the record is not of the scenario's model.
 */
export async function previewActivityEmail(
  e: Engine,
  activityId: number,
  target: { recordModel: string; recordId: string; lang?: string },
): Promise<EmailPreview> {
  const activity = await getActivityRow(e, activityId);
  if (activity.action !== "send_email") {
    throw invalid(`activity ${activityId} does not send an e-mail (its action is not "send_email")`);
  }
  const scenario = await getScenarioRow(e, activity.scenarioId);
  if (target.recordModel !== scenario.model) {
    throw invalid(`record_model: the scenario of activity ${activityId} works on "${scenario.model}" records`);
  }
  const record = await e.db
    .select()
    .from(records)
    .where(and(eq(records.model, target.recordModel), eq(records.id, target.recordId)))
    .get();
  if (!record) throw notFound(`${target.recordModel} record`, JSON.stringify(target.recordId));
  const party =
    record.partyId === null
      ? undefined
      : await e.db
          .select()
          .from(records)
          .where(and(eq(records.model, "party"), eq(records.id, record.partyId)))
          .get();
  try {
    return await previewEmail(
      {
        scenario: { id: scenario.id, name: scenario.name },
        activity: {
          id: activity.id,
          name: activity.name,
          emailFrom: activity.emailFrom,
          emailTitle: activity.emailTitle ?? "",
          emailTemplate: activity.emailTemplate ?? "",
          emailTranslations: activity.emailTranslations,
        },
        record: { model: record.model, id: record.id, fields: record.fields },
        party: party ? { id: party.id, fields: party.fields } : null,
      },
      getConfig(e.env),
      target.lang ?? party?.fields.lang,
    );
  } catch (err) {
    if (err instanceof ComposeError) throw invalid(err.message);
    throw err;
  }
}
