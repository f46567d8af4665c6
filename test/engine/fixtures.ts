import { env } from "cloudflare:workers";
import type { EmailJob, Mailer, SendOutcome } from "../../src/email/job";
import type { WakeTime } from "../../src/engine/ports";
import type { Bindings } from "../../src/env";
import { buildServices } from "../../src/services";
import { ok } from "../helpers";

/** An engine over the test bindings whose wake-ups are recorded instead of sent to the scheduler. */
export function testEngine() {
  const wakes: WakeTime[] = [];
  const engine = buildServices(env as Bindings, {
    wake: async (times) => {
      wakes.push(...times);
    },
  });
  return { engine, wakes };
}

/** A mailer that records every job and answers with a scripted outcome (default: sent). */
export class ScriptedMailer implements Mailer {
  readonly jobs: EmailJob[] = [];
  constructor(private readonly script: (job: EmailJob) => SendOutcome | Promise<SendOutcome> = () => sent()) {}
  async sendBatch(jobs: EmailJob[]): Promise<SendOutcome[]> {
    this.jobs.push(...jobs);
    return Promise.all(jobs.map((j) => this.script(j)));
  }
  sentTo(recordId: string) {
    return this.jobs.filter((j) => j.record.id === recordId);
  }
}

export const sent = (): SendOutcome => ({ status: "sent", emailId: 0 });

export const sendEmail = { action: "send_email", email_title: "Hi {{party.name}}", email_template: "<p>Hello</p>" };

/** Creates a scenario with the given activities (parents by name) through the API; returns ids by name. */
export async function buildScenario(
  scenario: { name: string; model: string; domain?: unknown[]; unsubscribable?: boolean; goal?: unknown[] },
  activities: ({ name: string; parent?: string } & Record<string, unknown>)[],
) {
  const s = await ok("POST", "/scenarios", scenario);
  const ids: Record<string, string> = {};
  for (const { parent, ...a } of activities) {
    const created = await ok("POST", `/scenarios/${s.id}/activities`, { ...a, parent_id: parent ? ids[parent] : null });
    ids[a.name] = created.id;
  }
  return { scenarioId: s.id as string, activity: ids };
}

export async function recordActivities(scenarioId: string, query = "") {
  const page = await ok("GET", `/scenarios/${scenarioId}/record-activities?limit=500${query}`);
  return page.items as {
    id: string;
    scenario_record_id: string;
    activity_id: string;
    state: string;
    at: string | null;
    email_opened: boolean;
    email_clicked: boolean;
    reason: string | null;
    attempts: number;
  }[];
}

/** The record activity of `activityId` for the scenario record of `recordId`. */
export async function recordActivityOf(scenarioId: string, activityId: string, recordId: string) {
  const srs = await ok("GET", `/scenarios/${scenarioId}/records?limit=500`);
  const sr = srs.items.find((r: { record_id: string }) => r.record_id === recordId);
  if (!sr) return undefined;
  const ras = await recordActivities(scenarioId, `&activity_id=${activityId}&scenario_record_id=${sr.id}`);
  return ras[0];
}

/**
 * Record activities claimed by a Worker that then died (key `dead`), as a claim leaves them: still `waiting`, listed
 * by the claim's rows (one a shard), which lapse at `until`.
 */
export async function deadClaim(where: string, bind: unknown[], until: number) {
  await env.DB.prepare(
    `INSERT INTO claims (key, shard, until, ids, created_at)
     SELECT 'dead', shard, ?, json_group_array(id), ? FROM record_activities WHERE state = 'waiting' AND ${where}
     GROUP BY shard`,
  )
    .bind(until, until, ...bind)
    .run();
}

/**
 * The same, as claims wrote them before the upgrade: the rows `running` under the claim's key with the attempt counted
 * (`attempts`), and the claim's rows a shard.
 */
export async function legacyDeadClaim(where: string, bind: unknown[], until: number, attempts = 1) {
  await env.DB.prepare(
    `UPDATE record_activities SET state = 'running', claim_key = 'dead', claimed_until = ?, attempts = ? WHERE ${where}`,
  )
    .bind(until, attempts, ...bind)
    .run();
  await env.DB.prepare(
    `INSERT INTO claims (key, shard, until, ids, created_at)
     SELECT 'dead', shard, ?, json_group_array(id), ? FROM record_activities WHERE claim_key = 'dead' AND state = 'running'
     GROUP BY shard
     ON CONFLICT (key, shard) DO UPDATE SET ids = excluded.ids, until = excluded.until`,
  )
    .bind(until, until)
    .run();
}
