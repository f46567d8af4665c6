import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createMailer } from "../../../src/email/mailer";
import { enroll } from "../../../src/engine/enrollment/enroll";
import { processDue } from "../../../src/engine/execution/execute";
import { recoverOrphanClaims } from "../../../src/engine/execution/recover";
import type { Bindings } from "../../../src/env";
import type { OutgoingEmail, SendResult, Transport } from "../../../src/mail/transport";
import { ShardJournal } from "../../../src/objects/journal";
import { schedulerStub } from "../../../src/scheduler/client";
import { buildServices, withMailer } from "../../../src/services";
import { ok } from "../../helpers";
import { buildScenario } from "../fixtures";

/**
 * Crash-safe sending (docs/engine.md, "What a crash costs"): the Scheduler shard journals each attempt and answer in
 * its own storage before the next send; the next instance recovers the dead one's claim at once from it.
 */

const bindings = env as unknown as Bindings;

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** A transport that records each message's recipient and answers as `answer` says (a promise that never settles hangs). */
function transport(answer: (n: number) => Promise<SendResult>) {
  const to: string[] = [];
  const t: Transport = {
    name: "local",
    send(message: OutgoingEmail) {
      to.push(message.to.address);
      return answer(to.length);
    },
  };
  return { t, to };
}

const sent = async (): Promise<SendResult> => ({ ok: true, providerId: `p-${crypto.randomUUID()}` });
const never = () => new Promise<SendResult>(() => {});

/** `n` parties of a cohort in a running scenario with one e-mail, enrolled: `n` record activities due now. */
async function due(cohort: string, n: number) {
  await ok("POST", "/records/party/batch", {
    records: Array.from({ length: n }, (_, i) => ({
      id: `${cohort}${i}`,
      name: `P${i}`,
      email: `${cohort}${i}@example.com`,
      cohort,
    })),
  });
  const built = await buildScenario({ name: `Crash ${cohort}`, model: "party", domain: [["cohort", "=", cohort]] }, [
    { name: "Mail", action: "send_email", email_title: "Hi", email_template: "<p>Hello</p>" },
  ]);
  await env.DB.prepare("UPDATE scenarios SET state = 'running' WHERE id = ?").bind(built.scenarioId).run();
  await enroll(buildServices(bindings, { wake: async () => {} }), { scenarioId: Number(built.scenarioId) });
  return built;
}

const rowsOf = async (scenarioId: string) =>
  (
    await env.DB.prepare(
      `SELECT ra.id, ra.state, ra.attempts, r.id AS party FROM record_activities ra
       JOIN scenario_records sr ON sr.id = ra.scenario_record_id
       JOIN records r ON r.model = sr.model AND r.id = sr.record_id
       WHERE ra.scenario_id = ? ORDER BY ra.id`,
    )
      .bind(scenarioId)
      .all<{ id: number; state: string; attempts: number; party: string }>()
  ).results;

const archiveOf = async (scenarioId: string) =>
  (
    await env.DB.prepare(
      "SELECT record_activity_id AS ra, status, error FROM email_archive WHERE scenario_id = ? ORDER BY id",
    )
      .bind(scenarioId)
      .all<{ ra: number; status: string; error: string | null }>()
  ).results;

describe("a Worker killed mid-send", () => {
  it("its claim is recovered at once: answered e-mails are not sent again, those in flight once, untried ones carry no attempt", async () => {
    const { scenarioId } = await due("crash", 12);
    await runInDurableObject(schedulerStub(bindings, 0), async (_, state) => {
      // The first instance: two sends answered, then every send hangs (8 at once), and the Worker is killed.
      const first = transport((n) => (n <= 2 ? sent() : never()));
      const dead = new ShardJournal(state.storage.sql);
      const killed = buildServices(bindings, { wake: async () => {}, journal: dead });
      void processDue(withMailer(killed, createMailer(bindings, { journal: dead, transport: first.t })));
      await vi.waitFor(() => expect(first.to).toHaveLength(10));
      const answeredTo = first.to.slice(0, 2);

      // Its successor reads the journal: one claim, ten attempts of which two answered.
      const journal = new ShardJournal(state.storage.sql);
      const orphans = journal.orphans();
      expect(orphans).toHaveLength(1);
      expect(orphans[0]?.attempts).toHaveLength(10);
      expect(orphans[0]?.attempts.filter((a) => a.outcome?.st === "sent")).toHaveLength(2);
      const engine = buildServices(bindings, { wake: async () => {}, journal });
      expect(await recoverOrphanClaims(engine, orphans, Date.now())).toEqual({ claims: 1, answered: 2, unknown: 8 });
      for (const o of orphans) journal.settled(o.key);
      expect(journal.orphans()).toEqual([]);

      // At once, not after the claim timeout: every row is taken over now.
      const second = transport(sent);
      const step = await processDue(withMailer(engine, createMailer(bindings, { journal, transport: second.t })));
      expect(step).toMatchObject({ claimed: 12, done: 12 });
      // The two answered are not sent again; the eight in flight are sent again once; the two untried once.
      expect(second.to).toHaveLength(10);
      for (const address of answeredTo) expect(second.to).not.toContain(address);
      const all = [...first.to, ...second.to];
      for (let i = 0; i < 12; i++)
        expect(all.filter((a) => a === `crash${i}@example.com`).length).toBeLessThanOrEqual(2);

      const rows = await rowsOf(scenarioId);
      expect(rows.every((r) => r.state === "done")).toBe(true);
      const attempts = (address: string) => rows.find((r) => `${r.party}@example.com` === address)?.attempts;
      const untried = [...Array(12).keys()].map((i) => `crash${i}@example.com`).filter((a) => !first.to.includes(a));
      expect(untried).toHaveLength(2);
      // Rows never tried carry this claim's attempt only; rows in flight carry the dead one's too.
      for (const a of untried) expect(attempts(a)).toBe(1);
      for (const a of first.to.slice(2)) expect(attempts(a)).toBe(2);

      // True records: each e-mail sent is archived sent once; the attempts in flight are archived abandoned, saying
      // that their record activity tried again.
      const archive = await archiveOf(scenarioId);
      expect(archive.filter((e) => e.status === "sent")).toHaveLength(12);
      const abandoned = archive.filter((e) => e.status === "abandoned");
      expect(abandoned).toHaveLength(8);
      for (const e of abandoned) {
        expect(e.error).toMatch(/not known to be delivered/);
        expect(e.error).toMatch(/tries again/);
        expect(e.error).not.toMatch(/did not send it again/);
      }
    });
  });

  it("an orphan whose claim was settled meanwhile changes nothing, and recovering twice is harmless", async () => {
    const { scenarioId } = await due("settled", 3);
    await runInDurableObject(schedulerStub(bindings, 1), async (_, state) => {
      const journal = new ShardJournal(state.storage.sql);
      const engine = buildServices(bindings, { wake: async () => {}, journal });
      const t = transport(sent);
      expect(await processDue(withMailer(engine, createMailer(bindings, { journal, transport: t.t })))).toMatchObject({
        claimed: 3,
        done: 3,
      });
      // Settled: nothing left in the journal.
      expect(new ShardJournal(state.storage.sql).orphans()).toEqual([]);
      // A stale orphan (its claim committed): recovery writes nothing that matters, twice over.
      const stale = [{ key: "gone-claim", attempts: [{ id: 1, ra: 1, outcome: null }] }];
      await recoverOrphanClaims(engine, stale, Date.now());
      await recoverOrphanClaims(engine, stale, Date.now());
      expect((await rowsOf(scenarioId)).map((r) => [r.state, r.attempts])).toEqual([
        ["done", 1],
        ["done", 1],
        ["done", 1],
      ]);
      expect(t.to).toHaveLength(3);
    });
  });
});
