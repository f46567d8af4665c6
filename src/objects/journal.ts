import type { AttemptOutcome, DeliveryJournal } from "../email/job";
import type { ClaimJournal, OrphanClaim } from "../engine/ports";

/**
 * A Scheduler shard's journal of its claims, in the object's own SQLite storage: the claims it took and has not
 * settled, the attempts that reached the transport and what the transport answered. Each write is synchronous and
 * the runtime holds every outgoing request until the writes before it are durable, so a provider never sees a send
 * whose predecessor's answer could still be lost. The claims of this instance are `live`; any other claim left in the
 * table was taken by an instance that is gone (killed mid-alarm, evicted, redeployed), and is recovered at once.
 */
export class ShardJournal implements ClaimJournal, DeliveryJournal {
  private readonly live = new Set<string>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS journal_claims (key TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    sql.exec(
      `CREATE TABLE IF NOT EXISTS journal_attempts (
         claim_key TEXT NOT NULL, id INTEGER NOT NULL, ra INTEGER NOT NULL, outcome TEXT,
         PRIMARY KEY (claim_key, id))`,
    );
  }

  claimed(key: string): void {
    this.live.add(key);
    this.sql.exec("INSERT OR IGNORE INTO journal_claims (key, at) VALUES (?, ?)", key, Date.now());
  }

  settled(key: string): void {
    this.live.delete(key);
    this.sql.exec("DELETE FROM journal_attempts WHERE claim_key = ?", key);
    this.sql.exec("DELETE FROM journal_claims WHERE key = ?", key);
  }

  orphaned(key: string): void {
    this.live.delete(key);
  }

  trying(claimKey: string, attempt: { id: number; ra: number }): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO journal_attempts (claim_key, id, ra, outcome) VALUES (?, ?, ?, NULL)",
      claimKey,
      attempt.id,
      attempt.ra,
    );
  }

  answered(claimKey: string, outcome: AttemptOutcome): void {
    this.sql.exec(
      "UPDATE journal_attempts SET outcome = ? WHERE claim_key = ? AND id = ?",
      JSON.stringify(outcome),
      claimKey,
      outcome.id,
    );
  }

  orphans(): OrphanClaim[] {
    const keys = this.sql
      .exec<{ key: string }>("SELECT key FROM journal_claims ORDER BY at")
      .toArray()
      .map((r) => r.key)
      .filter((key) => !this.live.has(key));
    return keys.map((key) => ({
      key,
      attempts: this.sql
        .exec<{ id: number; ra: number; outcome: string | null }>(
          "SELECT id, ra, outcome FROM journal_attempts WHERE claim_key = ? ORDER BY id",
          key,
        )
        .toArray()
        .map((a) => ({
          id: a.id,
          ra: a.ra,
          outcome: a.outcome === null ? null : (JSON.parse(a.outcome) as AttemptOutcome),
        })),
    }));
  }
}
