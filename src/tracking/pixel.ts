import type { Context } from "hono";
import type { Bindings } from "../env";
import type { AppEnv } from "../http/router";
import { trackingSecretOf } from "../signing/keys";
import { type RequestFacts, recordHit, requestFacts } from "./hits";
import { findLink, isLinkKey } from "./links";
import { hitOn } from "./targets";

/** A transparent 1x1 GIF89a: header, screen descriptor, 2-colour table, transparency extension, one pixel. 43 bytes. */
export const PIXEL = Uint8Array.from([
  0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
  0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
  0x02, 0x44, 0x01, 0x00, 0x3b,
]);

const PIXEL_HEADERS = {
  "Content-Type": "image/gif",
  "Content-Length": String(PIXEL.byteLength),
  // Each open must reach the Worker: no browser, proxy or CDN may keep the image.
  "Cache-Control": "no-store, no-cache, must-revalidate, private, max-age=0",
  Pragma: "no-cache",
  Expires: "0",
  "X-Content-Type-Options": "nosniff",
  "X-Robots-Tag": "noindex, nofollow",
};

/**
 * `GET /o/:key.gif`: always the pixel, whatever the key, without waiting for anything. The lookup and the hit (an open
 * when a person's) happen in `waitUntil`; an unknown key records nothing.
 */
export function servePixel(c: Context<AppEnv, "/o/:file">): Response {
  const key = c.req.param("file").replace(/\.gif$/i, "");
  if (isLinkKey(key)) {
    const waitUntil = (work: Promise<unknown>) => c.executionCtx.waitUntil(work);
    const work = recordOpen(c.env, key, requestFacts(c.req.raw), new URL(c.req.url).origin, waitUntil);
    waitUntil(work.catch((err) => console.error("open hit", err)));
  }
  return new Response(PIXEL.slice(), { headers: PIXEL_HEADERS });
}

async function recordOpen(
  env: Bindings,
  key: string,
  facts: RequestFacts,
  origin: string,
  waitUntil: (work: Promise<unknown>) => void,
): Promise<void> {
  const link = await findLink(env.DB, key, { origin, secret: trackingSecretOf(env), waitUntil });
  if (link?.kind !== "open") return;
  recordHit(env, hitOn(link, "open"), facts, waitUntil);
}
