import type { Context } from "hono";
import { unpackLinkUrls } from "../email/link-urls";
import { stagedEmailRow } from "../email/staged";
import { blockScenarioRecord } from "../engine/recipients/blocking";
import { AppError } from "../errors";
import type { AppEnv } from "../http/router";
import { buildServices } from "../services";
import { isSignedKey, trackingSecretOf, verifyKey } from "../signing/keys";
import { tokenToMatch } from "../signing/tokens";
import { recordHit, requestFacts } from "./hits";
import { httpUrl, isLinkKey } from "./links";
import { messagesFor } from "./messages";
import { confirmPage, donePage, notFoundPage, sendPage } from "./pages";

type UnsubscribeContext = Context<AppEnv>;

/** The route's parameters: `/u/:token` or `/u/:token/:nextKey`. */
const params = (c: UnsubscribeContext) => c.req.param() as { token: string; nextKey?: string };

interface Subscription {
  id: number;
  scenario_id: number;
  scenario_name: string;
  blocked: number;
  lang: unknown;
}

interface NextPage {
  key: string;
  url: string;
  email_id: number;
  record_activity_id: number;
  activity_id: number;
}

const SUBSCRIPTION_SQL = `
  SELECT sr.id, sr.scenario_id, sr.blocked, s.name AS scenario_name, json_extract(p.fields, '$.lang') AS lang
  FROM scenario_records sr
  JOIN scenarios s ON s.id = sr.scenario_id
  LEFT JOIN records p ON p.model = 'party' AND p.id = sr.party_id
  WHERE sr.id = ? AND sr.token = ?`;

// The next page only counts when its link belongs to the same scenario record as the token.
const NEXT_SQL = `
  SELECT l.key, l.url, l.email_id, l.record_activity_id, ra.activity_id
  FROM links l
  JOIN record_activities ra ON ra.id = l.record_activity_id
  JOIN scenario_records sr ON sr.id = ra.scenario_record_id
  WHERE l.key = ? AND l.kind = 'next' AND sr.id = ? AND sr.token = ?`;

// A signed next key names its e-mail, which must have been sent to the token's scenario record.
const SIGNED_NEXT_SQL = `
  SELECT e.id AS email_id, e.record_activity_id, e.activity_id, e.link_urls
  FROM email_archive e
  JOIN scenario_records sr ON sr.id = e.scenario_record_id
  WHERE e.id = ? AND sr.id = ? AND sr.token = ?`;

/** The statement that finds the next page a key names, or null when the key is not a valid next key. */
async function nextPageQuery(
  c: UnsubscribeContext,
  nextKey: string,
  parsed: { id: number; secret: string },
): Promise<{ statement: D1PreparedStatement; position: number | null; emailId: number | null } | null> {
  if (!isSignedKey(nextKey)) {
    return {
      statement: c.env.DB.prepare(NEXT_SQL).bind(nextKey, parsed.id, parsed.secret),
      position: null,
      emailId: null,
    };
  }
  const secret = trackingSecretOf(c.env);
  const k = secret === null ? null : await verifyKey(secret, nextKey);
  if (k?.kind !== "next") return null;
  return {
    statement: c.env.DB.prepare(SIGNED_NEXT_SQL).bind(k.emailId, parsed.id, parsed.secret),
    position: k.position,
    emailId: k.emailId,
  };
}

/**
 * A signed next key's e-mail delivered but not archived yet, found staged in its claim (on the primary): it counts
 * only when it went to the token's scenario record.
 */
async function stagedNextPage(d1: D1Database, emailId: number, scenarioRecordId: number) {
  const row = await stagedEmailRow<NextPage & { scenario_record_id: number; id: number }>(d1, emailId);
  if (row?.scenario_record_id !== scenarioRecordId) return undefined;
  return { ...row, email_id: row.id };
}

/** The scenario record behind a token, and the page to show afterwards when the URL names a valid one. */
async function load(c: UnsubscribeContext): Promise<{ sub: Subscription; next: NextPage | null } | null> {
  const { token, nextKey } = params(c);
  const parsed = await tokenToMatch(c.env, token);
  if (!parsed) return null;
  const subscription = c.env.DB.prepare(SUBSCRIPTION_SQL).bind(parsed.id, parsed.secret);
  const nextQuery = nextKey === undefined || !isLinkKey(nextKey) ? null : await nextPageQuery(c, nextKey, parsed);
  if (nextKey === undefined || nextQuery === null) {
    const sub = await subscription.first<Subscription>();
    return sub ? { sub, next: null } : null;
  }
  const [subs, nexts] = await c.env.DB.batch<Subscription | NextPage>([subscription, nextQuery.statement]);
  const sub = subs?.results[0] as Subscription | undefined;
  let next = nexts?.results[0] as NextPage | undefined;
  if (!sub) return null;
  if (!next && nextQuery.emailId !== null) next = await stagedNextPage(c.env.DB, nextQuery.emailId, parsed.id);
  if (next && nextQuery.position !== null) {
    const stored = (next as NextPage & { link_urls: string | null }).link_urls;
    const url = (await unpackLinkUrls(stored))[nextQuery.position];
    next = url === undefined ? undefined : { ...next, key: nextKey, url };
  }
  const url = next ? httpUrl(next.url) : null;
  return { sub, next: next && url ? { ...next, url } : null };
}

/**
 * `GET /u/:token[/:nextKey]`: a page naming the scenario with a button. It changes nothing, because mail scanners
 * fetch every link; only the form's POST unsubscribes.
 */
export async function askToUnsubscribe(c: UnsubscribeContext): Promise<Response> {
  const found = await load(c);
  if (!found) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  const { sub, next } = found;
  const m = messagesFor(sub.lang);
  if (sub.blocked) return sendPage(c, donePage(m, sub.scenario_name));
  // The form posts back to this very URL, minus any query string: nothing but the stored link decides `next`.
  const action = `/u/${params(c).token}${next ? `/${next.key}` : ""}`;
  return sendPage(c, confirmPage(m, sub.scenario_name, action), 200, next ? [new URL(next.url).origin] : []);
}

/**
 * `POST /u/:token[/:nextKey]`: blocks the scenario record (and unsubscribes the party when the scenario is
 * unsubscribable), idempotently, then shows "You are unsubscribed" or redirects (303) to the next page stored at send
 * time. An RFC 8058 one-click POST (`List-Unsubscribe=One-Click`, sent by mail providers) gets a 200, never a redirect.
 * The unguessable token in the URL is the only credential, as RFC 8058 requires: see docs/tracking.md.
 */
export async function unsubscribe(c: UnsubscribeContext): Promise<Response> {
  const found = await load(c);
  if (!found) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  const { sub, next } = found;
  const facts = requestFacts(c.req.raw);
  const oneClick = await isOneClick(c);
  const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  try {
    await blockScenarioRecord(buildServices(c.env, { waitUntil }), sub.id);
  } catch (err) {
    if (err instanceof AppError && err.code === "not_found") return sendPage(c, notFoundPage(messagesFor(null)), 404);
    throw err;
  }
  recordHit(
    c.env,
    {
      kind: "unsubscribe",
      linkKey: next?.key ?? null,
      emailId: next?.email_id ?? null,
      recordActivityId: next?.record_activity_id ?? null,
      scenarioId: sub.scenario_id,
      activityId: next?.activity_id ?? null,
    },
    facts,
    waitUntil,
  );

  if (next && !oneClick) {
    return new Response(null, {
      status: 303,
      headers: { Location: next.url, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer" },
    });
  }
  return sendPage(c, donePage(messagesFor(sub.lang), sub.scenario_name));
}

/** RFC 8058: the body is `List-Unsubscribe=One-Click`, form-urlencoded or multipart. A body that does not parse is not. */
async function isOneClick(c: UnsubscribeContext): Promise<boolean> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  try {
    if (type.startsWith("multipart/form-data") || type.startsWith("application/x-www-form-urlencoded")) {
      const body = await c.req.parseBody();
      return body["List-Unsubscribe"] === "One-Click";
    }
    const text = new TextDecoder().decode(await c.req.arrayBuffer());
    return new URLSearchParams(text.trim()).get("List-Unsubscribe") === "One-Click";
  } catch {
    return false;
  }
}
