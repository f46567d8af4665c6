import type { Context } from "hono";
import { getPreferences, setPreferences } from "../engine/recipients/preferences";
import type { AppEnv } from "../http/router";
import { buildServices } from "../services";
import { tokenToMatch } from "../signing/tokens";
import { classify } from "./classify";
import { requestFacts } from "./hits";
import { messagesFor } from "./messages";
import { notFoundPage, preferencesPage, sendPage } from "./pages";

type PreferencesContext = Context<AppEnv>;

/** The party behind a recipient's token (the scenario record's unsubscribe token), and its language. */
async function partyOf(c: PreferencesContext): Promise<{ partyId: string; lang: unknown } | null> {
  const parsed = await tokenToMatch(c.env, c.req.param("token"));
  if (!parsed) return null;
  const row = await c.env.DB.prepare(
    `SELECT sr.party_id, json_extract(p.fields, '$.lang') AS lang
     FROM scenario_records sr LEFT JOIN records p ON p.model = 'party' AND p.id = sr.party_id
     WHERE sr.id = ? AND sr.token = ? AND sr.party_id IS NOT NULL`,
  )
    .bind(parsed.id, parsed.secret)
    .first<{ party_id: string; lang: unknown }>();
  return row ? { partyId: row.party_id, lang: row.lang } : null;
}

async function show(c: PreferencesContext, partyId: string, lang: unknown, saved: boolean, status: 200 | 400 = 200) {
  const prefs = await getPreferences(buildServices(c.env), partyId);
  const action = `/p/${c.req.param("token")}`;
  return sendPage(c, preferencesPage(messagesFor(lang), prefs.topics, action, saved), status);
}

/** `GET /p/:token`: the recipient's topics with their state. Changes nothing (scanners fetch every link). */
export async function showPreferences(c: PreferencesContext): Promise<Response> {
  const found = await partyOf(c);
  if (!found) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  return show(c, found.partyId, found.lang, false);
}

/**
 * `POST /p/:token`: `action=all` opts out of every topic; `action=save` keeps the ticked topics (`subscribed=…`,
 * repeated) and opts out of the others. The same form posted twice changes nothing more. The request is classified
 * like a confirmation first (src/tracking/classify.ts): a scanner that submits forms (a known scanner's user agent,
 * referrer or network, a HEAD) changes nothing and gets the page back. A body that does not parse, or names no known
 * action, changes nothing either (400 with the page): it is never taken as "nothing ticked".
 */
export async function changePreferences(c: PreferencesContext): Promise<Response> {
  const found = await partyOf(c);
  if (!found) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  const verdict = classify({ ...requestFacts(c.req.raw), kind: "confirm" });
  if (!verdict.human) return show(c, found.partyId, found.lang, false);
  const form = await readForm(c);
  if (form === null || (form.action !== "all" && form.action !== "save")) {
    return show(c, found.partyId, found.lang, false, 400);
  }
  const e = buildServices(c.env, { waitUntil: (p: Promise<unknown>) => c.executionCtx.waitUntil(p) });
  const ticked = new Set([form.subscribed ?? []].flat().filter((v): v is string => typeof v === "string"));
  if (form.action === "all") {
    await setPreferences(e, found.partyId, { allOptedOut: true });
  } else {
    const current = await getPreferences(e, found.partyId);
    const topics = Object.fromEntries(current.topics.map((t) => [t.id, ticked.has(t.id)]));
    await setPreferences(e, found.partyId, { topics, allOptedOut: false });
  }
  return show(c, found.partyId, found.lang, true);
}

/** The posted form, or null when the body is not a form (another type, or one that does not parse). */
async function readForm(c: PreferencesContext): Promise<Record<string, unknown> | null> {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  if (!type.startsWith("application/x-www-form-urlencoded") && !type.startsWith("multipart/form-data")) return null;
  try {
    return (await c.req.parseBody({ all: true })) as Record<string, unknown>;
  } catch {
    return null;
  }
}
