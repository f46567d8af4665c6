import { base64url } from "../ids";
import { hmacBytes } from "../signing/keys";
import { bodyObjectKey } from "./bodies";
import { domainOf } from "./sender";

/**
 * Columns of an `emails` row that store only what cannot be derived, and how readers get the full value back. Rows
 * written before keep the full value, told apart by its format:
 *
 * - `message_id`: `''` for e-mails whose Message-ID is derived, `<{id}.{mac}@{domain}>` with the MAC (96 bits,
 *   base64url) of `message-id:{id}` under TRACKING_SECRET and the From address's domain; the full Message-ID before.
 * - `body_key`: the batch's nonce (12 hex) for bodies under `batchKey(created_at, nonce)`; the full R2 key before
 *   (`bodyObjectKey`, src/email/archive.ts).
 * - `answered_at`: NULL when the transport answered at `sent_at` (a sent e-mail, the usual case).
 */

/** The Message-ID of e-mail `emailId` from an address on `domain`: unique (the id) and not guessable (the MAC). */
export async function derivedMessageId(secret: string, emailId: number, domain: string): Promise<string> {
  return `<${emailId}.${base64url(await hmacBytes(secret, `message-id:${emailId}`, 12))}@${domain}>`;
}

/** The domain of a stored From (`address` or `"Name" <address>`). */
const fromDomain = (from: string) => domainOf(/<([^<>]+)>\s*$/.exec(from)?.[1] ?? from);

/** An e-mail's Message-ID: the stored one, or the derived one (`''` without a secret to derive it). */
export async function messageIdOf(
  secret: string | null,
  row: { id: number; from: string; messageId: string },
): Promise<string> {
  if (row.messageId !== "" || secret === null) return row.messageId;
  return derivedMessageId(secret, row.id, fromDomain(row.from));
}

/** When the transport answered: stored, or at `sent_at` when it is NULL. */
export const answeredAtOf = (row: { answeredAt: number | null; sentAt: number | null }): number | null =>
  row.answeredAt ?? row.sentAt;

/** A row with its derived columns filled in, as readers (the API, the console, the retention export) show it. */
export async function withDerivedColumns<
  T extends {
    id: number;
    from: string;
    messageId: string;
    bodyKey: string;
    createdAt: number;
    answeredAt: number | null;
    sentAt: number | null;
  },
>(secret: string | null, row: T): Promise<T> {
  return {
    ...row,
    messageId: await messageIdOf(secret, row),
    bodyKey: bodyObjectKey(row),
    answeredAt: answeredAtOf(row),
  };
}

/**
 * A row as D1 returns it (column names) with its derived Message-ID and body key filled in: what the retention export
 * writes. `answered_at` stays as stored (NULL: at `sent_at`).
 */
export async function withDerivedColumnsRaw(
  secret: string | null,
  row: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const full = await withDerivedColumns(secret, {
    id: row.id as number,
    from: row.from as string,
    messageId: row.message_id as string,
    bodyKey: row.body_key as string,
    createdAt: row.created_at as number,
    answeredAt: row.answered_at as number | null,
    sentAt: row.sent_at as number | null,
  });
  return { ...row, message_id: full.messageId, body_key: full.bodyKey };
}
