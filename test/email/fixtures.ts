import { env } from "cloudflare:workers";
import type { EmailJob } from "../../src/email/job";
import { type Bindings, type Config, getConfig } from "../../src/env";

/** The test Worker's bindings (wrangler.toml vars: local transport, AUTOMATION_BASE http://localhost:8787). */
export const bindings = env as unknown as Bindings;
export const BASE = "http://localhost:8787";

export function config(overrides: Partial<Bindings> = {}): Config {
  return getConfig({ ...bindings, ...overrides } as Bindings);
}

let nextId = 1000;

/** An e-mail job for Michael Scott; pass what differs. */
export function job(overrides: Partial<EmailJob> & { template?: string; title?: string; from?: string | null } = {}) {
  const id = nextId++;
  const { template, title, from, ...rest } = overrides;
  const j: EmailJob = {
    recordActivityId: id,
    attempt: 1,
    scenario: { id: 7, name: "Welcome" },
    activity: {
      id: 70,
      name: "Welcome e-mail",
      emailFrom: from === undefined ? null : from,
      emailTitle: title ?? "Hello {{party.name}}",
      emailTemplate:
        template ??
        '<html><body><p>Hi {{party.name}}</p><a href="https://shop.example/cart/{{record.id}}">Cart</a> ' +
          '<a href="unsubscribe">Unsubscribe</a></body></html>',
    },
    scenarioRecord: { id: id * 10, token: `tok${id}` },
    record: { model: "party", id: `p${id}`, fields: { name: "Michael Scott", email: "michael@example.com" } },
    party: { id: `p${id}`, fields: { name: "Michael Scott", email: "michael@example.com" } },
    ...rest,
  };
  return j;
}

/** An `emails` row as D1 returns it (column names, raw values). */
export interface EmailRecord {
  id: number;
  record_activity_id: number;
  scenario_id: number;
  activity_id: number;
  scenario_record_id: number;
  to: string;
  from: string;
  subject: string;
  message_id: string;
  headers: string;
  transport: string;
  status: string;
  error: string | null;
  body_key: string;
  body_offset: number | null;
  body_length: number | null;
  attempt: number;
  sent_at: number | null;
  link_urls: string | null;
  created_at: number;
}

/** One `emails` row by id. */
export const emailRow = (id: number) =>
  bindings.DB.prepare("SELECT * FROM email_archive WHERE id = ?").bind(id).first<EmailRecord>();
