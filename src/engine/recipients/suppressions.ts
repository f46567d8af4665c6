import { and, asc, eq, gt } from "drizzle-orm";
import type { Db } from "../../db/client";
import { takePage } from "../../db/page";
import { type SuppressionReason, suppressions } from "../../db/schema";
import { checkEmailAddress } from "../../email/address";
import { invalid, notFound } from "../../errors";

export type Suppression = typeof suppressions.$inferSelect;

/** The normalized form of an address given through the API, or a 400 naming the field. */
function addressOf(text: string, field: string): string {
  const checked = checkEmailAddress(text.trim());
  if (!checked.ok) throw invalid(`${field}: not an e-mail address: it ${checked.problem}`);
  return checked.normalized;
}

/** Puts an address on the list. Adding one already there keeps the first entry (its reason and time): safe to repeat. */
export async function addSuppression(
  db: Db,
  input: { address: string; reason: SuppressionReason; source: string | null },
  now: number,
): Promise<{ suppression: Suppression; created: boolean }> {
  const address = addressOf(input.address, "address");
  const inserted = await db
    .insert(suppressions)
    .values({ address, reason: input.reason, source: input.source, createdAt: now })
    .onConflictDoNothing()
    .returning()
    .get();
  if (inserted) return { suppression: inserted, created: true };
  return { suppression: await getSuppression(db, address), created: false };
}

export async function getSuppression(db: Db, text: string): Promise<Suppression> {
  const address = addressOf(text, "address");
  const row = await db.select().from(suppressions).where(eq(suppressions.address, address)).get();
  if (!row) throw notFound("suppression", JSON.stringify(address));
  return row;
}

/** Takes an address off the list: it may be sent to again. A 404 when it is not on it. */
export async function removeSuppression(db: Db, text: string): Promise<void> {
  const address = addressOf(text, "address");
  const deleted = await db
    .delete(suppressions)
    .where(eq(suppressions.address, address))
    .returning({ address: suppressions.address });
  if (deleted.length === 0) throw notFound("suppression", JSON.stringify(address));
}

/** The list by address, a page at a time; optionally one reason only. */
export async function listSuppressions(
  db: Db,
  page: { limit: number; cursor: string | null; reason?: SuppressionReason },
): Promise<{ items: Suppression[]; nextCursor: string | null }> {
  const items = await db
    .select()
    .from(suppressions)
    .where(
      and(
        page.cursor === null ? undefined : gt(suppressions.address, page.cursor),
        page.reason ? eq(suppressions.reason, page.reason) : undefined,
      ),
    )
    .orderBy(asc(suppressions.address))
    .limit(page.limit + 1)
    .all();
  return takePage(items, page.limit, (s) => s.address);
}

/** Which of these normalized addresses are suppressed, with why: one query for a batch. */
export async function suppressedAmong(d1: D1Database, addresses: string[]): Promise<Map<string, SuppressionReason>> {
  if (addresses.length === 0) return new Map();
  const { results } = await d1
    .prepare("SELECT address, reason FROM suppressions WHERE address IN (SELECT value FROM json_each(?1))")
    .bind(JSON.stringify([...new Set(addresses)]))
    .all<{ address: string; reason: SuppressionReason }>();
  return new Map(results.map((r) => [r.address, r.reason]));
}

/** The reason shown on a record activity that was not sent because of the list. */
export function suppressedReason(reason: SuppressionReason): string {
  const why: Record<SuppressionReason, string> = {
    hard_bounce: "an earlier e-mail to it hard-bounced",
    complaint: "its recipient complained of spam",
    unsubscribe: "its recipient unsubscribed from all e-mail",
    soft_bounces: "e-mails to it soft-bounced too many times",
    manual: "it was added by hand",
  };
  return `the address is on the suppression list: ${why[reason]}`;
}
