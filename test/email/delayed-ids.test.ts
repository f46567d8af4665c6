import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { EMAIL_SEQUENCE_BASE, OWN_ID_WITHIN_MS } from "../../src/email/archive-ids";
import { enroll } from "../../src/engine/enrollment/enroll";
import { processDue } from "../../src/engine/execution/execute";
import { buildServices } from "../../src/services";
import { buildScenario, recordActivityOf } from "../engine/fixtures";
import { ok } from "../helpers";
import { bindings } from "./fixtures";

afterEach(() => {
  vi.restoreAllMocks();
});

const engine = () => buildServices(bindings, { wake: async () => {} });

/** A running scenario with one e-mail to party `id`, enrolled: its record activity's id. */
async function enrolled(name: string, id: string): Promise<number> {
  await ok("PUT", `/records/party/${id}`, { name: id, email: `${id}@example.com` });
  const built = await buildScenario({ name, model: "party", domain: [["id", "=", id]] }, [
    {
      name: "Mail",
      action: "send_email",
      email_title: "Hi",
      email_template: '<p><a href="https://shop.example/">Shop</a></p>',
    },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(engine(), { scenarioId: Number(built.scenarioId) });
  return Number((await recordActivityOf(built.scenarioId, built.activity.Mail as string, id))?.id);
}

const emailsOf = async (raId: number) =>
  (
    await env.DB.prepare("SELECT id, status FROM email_archive WHERE record_activity_id = ? ORDER BY id")
      .bind(raId)
      .all<{ id: number; status: string }>()
  ).results;

describe("e-mail ids and the time they are sent", () => {
  it("an e-mail sent long after its record activity was created takes a sequence id, so ids grow with send times", async () => {
    const fresh = await enrolled("Sent at once", "ids-fresh");
    const late = await enrolled("Sent late", "ids-late");
    // As a delay, a send window or a frequency cap would have it: created more than a day before it is sent.
    await env.DB.prepare("UPDATE record_activities SET created_at = created_at - ?2 WHERE id = ?1")
      .bind(late, OWN_ID_WITHIN_MS + 60_000)
      .run();
    for (;;) {
      const counts = await processDue(engine());
      if (counts.claimed === 0 && !counts.more) break;
    }
    expect(await emailsOf(fresh)).toEqual([{ id: fresh, status: "sent" }]);
    const [sentLate] = await emailsOf(late);
    expect(sentLate?.status).toBe("sent");
    expect(sentLate?.id).toBeGreaterThanOrEqual(EMAIL_SEQUENCE_BASE);
  });
});
