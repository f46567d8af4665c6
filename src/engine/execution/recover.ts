import { lapseClaim } from "../../db/claims";
import { outcomeStatements } from "../../email/archive";
import type { AttemptOutcome } from "../../email/job";
import { keepTriedInStaged } from "../../email/staged";
import type { Engine, OrphanClaim } from "../ports";

export interface Recovery {
  /** Claims recovered. */
  claims: number;
  /** Attempts whose answer the journal kept: archived with it, never sent again when it was `sent`. */
  answered: number;
  /** Attempts in flight when the Worker died (no answer kept): archived `abandoned`, and sent again once. */
  unknown: number;
}

/**
 * Recovers the claims a dead holder left, from its journal, in one D1 batch, and makes them lapse now so that the
 * next claim of their shard takes their rows over at once (not after CLAIM_TIMEOUT_MS): each answer the transport
 * gave is recorded in the claim's staged copy (the takeover archives it, and `send_email` never sends an e-mail the
 * archive holds as sent), and only attempts that reached the transport stay staged, so a row never tried is released
 * with no attempt counted. Safe to repeat: a claim already settled or taken over is no longer there to change.
 */
export async function recoverOrphanClaims(e: Engine, orphans: OrphanClaim[], now: number): Promise<Recovery> {
  const recovery: Recovery = { claims: orphans.length, answered: 0, unknown: 0 };
  if (orphans.length === 0) return recovery;
  const statements: D1PreparedStatement[] = [];
  for (const orphan of orphans) {
    const answered = orphan.attempts.flatMap((a) => (a.outcome ? [a.outcome] : [])) as AttemptOutcome[];
    recovery.answered += answered.length;
    recovery.unknown += orphan.attempts.length - answered.length;
    if (answered.length > 0) statements.push(...outcomeStatements(e.d1, answered, orphan.key));
    statements.push(
      keepTriedInStaged(
        e.d1,
        orphan.key,
        orphan.attempts.map((a) => a.id),
      ),
      lapseClaim(e.d1, orphan.key, now),
    );
  }
  await e.d1.batch(statements);
  return recovery;
}
