import type { Context } from "hono";
import type { AppEnv } from "../http/router";
import { trackingSecretOf } from "../signing/keys";
import { recordHit, requestFacts } from "./hits";
import { findLink, isLinkKey, rememberedLink } from "./links";
import { messagesFor } from "./messages";
import { notFoundPage, sendPage } from "./pages";
import { hitOn } from "./targets";

/**
 * `GET /l/:key`: a 302 to the URL stored for the key at send time, and nothing else (no parameter of the request
 * takes part in the target). The answer comes first; the hit is classified and recorded in `waitUntil`, where a
 * failure is logged and cannot touch the redirect. A key the isolate remembers costs no I/O at all.
 */
export async function redirectClick(c: Context<AppEnv, "/l/:key">): Promise<Response> {
  const key = c.req.param("key");
  if (!isLinkKey(key)) return sendPage(c, notFoundPage(messagesFor(null)), 404);
  const facts = requestFacts(c.req.raw);
  const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
  const link =
    rememberedLink(key) ??
    (await findLink(c.env.DB, key, { origin: new URL(c.req.url).origin, secret: trackingSecretOf(c.env), waitUntil }));
  if (link?.kind !== "click" || !link.url) return sendPage(c, notFoundPage(messagesFor(null)), 404);

  recordHit(c.env, hitOn(link, "click"), facts, waitUntil);
  return new Response(null, {
    status: 302,
    headers: {
      Location: link.url,
      // Every click must reach the Worker to be counted, and the destination need not learn the tracking key.
      "Cache-Control": "no-store",
      "Referrer-Policy": "no-referrer",
      "X-Robots-Tag": "noindex, nofollow",
    },
  });
}
