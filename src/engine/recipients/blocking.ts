import { shardOf } from "../../db/shards";
import { notFound } from "../../errors";
import type { Engine } from "../ports";
import { parkScenarioRecord, unparkScenarioRecord } from "../record-activities/due";

interface Target {
  id: number;
  scenario_id: number;
  party_id: string | null;
  blocked: number;
  unsubscribable: number;
}

async function target(e: Engine, scenarioRecordId: number): Promise<Target> {
  const row = await e.d1
    .prepare(
      `SELECT sr.id, sr.scenario_id, sr.party_id, sr.blocked, s.unsubscribable
       FROM scenario_records sr JOIN scenarios s ON s.id = sr.scenario_id WHERE sr.id = ?`,
    )
    .bind(scenarioRecordId)
    .first<Target>();
  if (!row) throw notFound("scenario record", scenarioRecordId);
  return row;
}

/**
 * Blocks a scenario record: it triggers nothing more, its waiting record activities stay waiting. In an
 * `unsubscribable` scenario the party is also unsubscribed, so its other records are never enrolled in it.
 * Idempotent: blocking twice changes nothing the second time.
 */
export async function blockScenarioRecord(e: Engine, scenarioRecordId: number): Promise<{ changed: boolean }> {
  const sr = await target(e, scenarioRecordId);
  const now = Date.now();
  const statements = [
    e.d1.prepare("UPDATE scenario_records SET blocked = 1 WHERE id = ? AND blocked = 0").bind(sr.id),
    parkScenarioRecord(e.d1, sr.id),
  ];
  if (sr.unsubscribable && sr.party_id !== null) {
    statements.push(
      e.d1
        .prepare("INSERT OR IGNORE INTO unsubscriptions (scenario_id, party_id, created_at) VALUES (?, ?, ?)")
        .bind(sr.scenario_id, sr.party_id, now),
    );
  }
  const [blocked] = await e.d1.batch(statements);
  return { changed: (blocked?.meta.changes ?? 0) > 0 };
}

/**
 * Unblocks a scenario record by hand: its waiting record activities resume (those overdue run now). The party's
 * unsubscription from the scenario, if any, is lifted too: unblocking is a deliberate act of the marketer.
 */
export async function unblockScenarioRecord(e: Engine, scenarioRecordId: number): Promise<{ changed: boolean }> {
  const sr = await target(e, scenarioRecordId);
  const statements = [
    e.d1.prepare("UPDATE scenario_records SET blocked = 0 WHERE id = ? AND blocked = 1").bind(sr.id),
    unparkScenarioRecord(e.d1, sr.id),
  ];
  if (sr.party_id !== null) {
    statements.push(
      e.d1
        .prepare("DELETE FROM unsubscriptions WHERE scenario_id = ? AND party_id = ?")
        .bind(sr.scenario_id, sr.party_id),
    );
  }
  const [unblocked] = await e.d1.batch(statements);
  const changed = (unblocked?.meta.changes ?? 0) > 0;
  if (changed) await e.wake([{ shard: shardOf(sr.id), at: Date.now() }]);
  return { changed };
}
