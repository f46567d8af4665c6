import type { Context } from "hono";
import { confirmSubscription, type Subscription, subscriptionOf } from "../engine/recipients/confirmations";
import type { AppEnv } from "../http/router";
import { buildServices } from "../services";
import { tokenToMatch } from "../signing/tokens";
import { classify } from "./classify";
import { recordHit, requestFacts } from "./hits";
import { messagesFor } from "./messages";
import { notFoundPage, optInDonePage, optInExpiredPage, optInPage, sendPage } from "./pages";

type ConfirmContext = Context<AppEnv>;

/** The subscription behind `/c/:token` (the scenario record's token), when a confirmation e-mail went out for it. */
async function load(c: ConfirmContext): Promise<Subscription | null> {
  const parsed = await tokenToMatch(c.env, c.req.param("token"));
  if (!parsed) return null;
  const sub = await subscriptionOf(buildServices(c.env), parsed);
  return sub && sub.state !== "none" ? sub : null;
}

function answer(c: ConfirmContext, sub: Subscription, state: Subscription["state"], retry = false) {
  const m = messagesFor(sub.lang);
  if (state === "confirmed") return sendPage(c, optInDonePage(m, sub.scenarioName));
  if (state === "expired") return sendPage(c, optInExpiredPage(m));
  return sendPage(c, optInPage(m, sub.scenarioName, `/c/${c.req.param("token")}`, retry));
}

/**
 * `GET /c/:token` (and `HEAD`): asks the recipient to confirm its subscription with a button. It changes nothing,
 * because mail scanners fetch every link.
 */
export async function askToConfirm(c: ConfirmContext): Promise<Response> {
  const sub = await load(c);
  if (!sub) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  return answer(c, sub, sub.state);
}

/**
 * `POST /c/:token`: a person's press of the button confirms the subscription (idempotently) and lets the scenario
 * record proceed. The request is classified like a click first: a scanner that submits forms (a known scanner's user
 * agent, referrer or network, or within seconds of delivery) is stored as a machine hit and confirms nothing.
 */
export async function confirm(c: ConfirmContext): Promise<Response> {
  const sub = await load(c);
  if (!sub) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  const facts = requestFacts(c.req.raw);
  const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const target = {
    kind: "confirm" as const,
    linkKey: null,
    emailId: sub.emailId,
    recordActivityId: sub.recordActivityId,
    scenarioId: sub.scenarioId,
    activityId: sub.activityId,
    // No archive row: being delivered (no send time yet, the timing rule applies), or no e-mail known (it cannot).
    sentAt: sub.emailId !== null ? sub.sentAt : sub.beingSent ? null : undefined,
  };
  if (sub.state !== "pending") return answer(c, sub, sub.state);
  recordHit(c.env, target, facts, waitUntil);
  const verdict = classify({ ...facts, kind: "confirm", sentAt: target.sentAt });
  if (!verdict.human) return answer(c, sub, "pending", true);
  const { state } = await confirmSubscription(buildServices(c.env, { waitUntil }), sub, verdict.client);
  return answer(c, sub, state);
}
