import { decodeHTMLAttribute, escapeAttribute } from "entities";
import type { LinkKind } from "../db/schema/emails";

/**
 * A key written into an e-mail. Its position indexes the e-mail's URLs (`link_urls`): clicks and next pages count
 * 0, 1, 2… in document order; the open pixel is position 0 of its own kind.
 */
export interface TrackingLink {
  key: string;
  kind: LinkKind;
  url: string | null;
  position: number;
}

/** Makes the key of a link at a position (signed with the tracking secret: `src/signing/keys.ts`). */
export type LinkKeyMaker = (kind: LinkKind, position: number) => Promise<string>;

export interface RewriteOptions {
  /** Base URL of tracking links, without a trailing slash. */
  automationBase: string;
  /** The recipient's unsubscribe token; null for a preview, which tracks nothing and makes no key. */
  token: string | null;
  /** Makes each tracking key; required when `token` is set. */
  linkKey?: LinkKeyMaker;
  /** Whether a tracked e-mail gets the open pixel (the activity's open tracking); true when omitted. */
  openPixel?: boolean;
}

export interface RewrittenHtml {
  html: string;
  links: TrackingLink[];
}

/** Where a preview's unsubscribe links point: there is no recipient, so no token. */
export const PREVIEW_UNSUBSCRIBE_PATH = "/u/preview";

/** Where a preview's preference-centre links point. */
export const PREVIEW_PREFERENCES_PATH = "/p/preview";

/** Where a preview's subscription-confirmation links point. */
export const PREVIEW_CONFIRM_PATH = "/c/preview";

/** Whether a template holds a subscription-confirmation link (`href="confirm"`): what makes a confirmation e-mail. */
export const hasConfirmLink = (template: string): boolean =>
  /\bhref\s*=\s*(["']?)\s*confirm\s*\1(?=[\s>/])/i.test(template);

/** What decides whether an activity's e-mail carries the open pixel. */
export interface OpenTrackingSource {
  settings: Record<string, unknown> | null;
  emailTemplate: string | null;
  emailTranslations?: Record<string, { email_template: string }> | null;
}

/**
 * Whether an activity's e-mail is open-tracked: its `settings.open_tracking` when set, else on, except for a
 * confirmation e-mail (a `href="confirm"` link in any of its versions), which asks for nothing but a click and whose
 * pixel would be its only image (spam filters score an e-mail whose one image is a pixel: docs/email.md).
 */
export function openTracking(a: OpenTrackingSource): boolean {
  const set = a.settings?.open_tracking;
  if (typeof set === "boolean") return set;
  const templates = [a.emailTemplate ?? "", ...Object.values(a.emailTranslations ?? {}).map((v) => v.email_template)];
  return !templates.some(hasConfirmLink);
}

const UNSUBSCRIBE = /^unsubscribe(?:\|(.*))?$/is;

/**
 * Rewrites the rendered HTML for tracking, with the runtime's streaming HTMLRewriter:
 * - `<a href>` with an http(s) URL → `${base}/l/${key}`, a `click` link to the original URL. Every link gets its own
 *   key, even two links to the same URL, so the archive tells which one was clicked;
 * - `href="unsubscribe"` → `${base}/u/${token}`, and `href="unsubscribe|https://next.example/"` →
 *   `${base}/u/${token}/${key}`, a `next` link to the page shown afterwards (http(s) only). Not a click;
 * - `href="preferences"` → `${base}/p/${token}`, the recipient's preference centre (its topics). Not a click;
 * - `href="confirm"` → `${base}/c/${token}`, the page where the recipient confirms its subscription (double opt-in).
 *   Not a click: only the page's POST confirms;
 * - any other href (`mailto:`, `tel:`, `#top`, relative) is left alone;
 * - the open pixel, an `open` link, goes just before `</body>`, or at the end when there is no `</body>`; none when
 *   `openPixel` is false (the activity does not track opens).
 *
 * Attribute values are read as written (`&amp;`, `&#x2F;`: Mustache escapes `/` and `=`), so they are decoded
 * before being read as URLs, and what is written back is escaped again.
 */
export async function rewriteHtml(html: string, o: RewriteOptions): Promise<RewrittenHtml> {
  const links: TrackingLink[] = [];
  const track = o.token !== null;
  const makeKey = o.linkKey;
  if (track && !makeKey) throw new Error("rewriteHtml: a tracked e-mail needs a link key maker");
  let urls = 0;
  const newKey = async (kind: LinkKind, url: string | null) => {
    const position = kind === "open" ? 0 : urls++;
    const key = await (makeKey as LinkKeyMaker)(kind, position);
    links.push({ key, kind, url, position });
    return key;
  };
  let pixelPlaced = !track || o.openPixel === false;
  const pixel = async () => {
    pixelPlaced = true;
    return openPixel(o.automationBase, await newKey("open", null));
  };

  const rewriter = new HTMLRewriter()
    .on("a[href]", {
      async element(a) {
        const href = decodeHTMLAttribute(a.getAttribute("href") ?? "").trim();
        const target = await linkTarget(href, o, newKey);
        if (target !== null) a.setAttribute("href", escapeAttribute(target));
      },
    })
    .on("body", {
      element(body) {
        if (pixelPlaced) return;
        body.onEndTag(async (end) => {
          if (!pixelPlaced) end.before(await pixel(), { html: true });
        });
      },
    })
    .onDocument({
      async end(end) {
        if (!pixelPlaced) end.append(await pixel(), { html: true });
      },
    });
  const out = await rewriter.transform(new Response(html)).text();
  return { html: out, links };
}

/** The new href of a link, or null to leave it alone. */
async function linkTarget(
  href: string,
  o: RewriteOptions,
  newKey: (kind: LinkKind, url: string | null) => Promise<string>,
): Promise<string | null> {
  if (href.toLowerCase() === "preferences") {
    return `${o.automationBase}${o.token === null ? PREVIEW_PREFERENCES_PATH : `/p/${o.token}`}`;
  }
  if (href.toLowerCase() === "confirm") {
    return `${o.automationBase}${o.token === null ? PREVIEW_CONFIRM_PATH : `/c/${o.token}`}`;
  }
  const unsubscribe = UNSUBSCRIBE.exec(href);
  if (unsubscribe) {
    if (o.token === null) return `${o.automationBase}${PREVIEW_UNSUBSCRIBE_PATH}`;
    const next = httpUrl(unsubscribe[1]?.trim() ?? "");
    const base = `${o.automationBase}/u/${o.token}`;
    return next === null ? base : `${base}/${await newKey("next", next)}`;
  }
  const url = httpUrl(href);
  if (url === null || o.token === null) return null;
  return `${o.automationBase}/l/${await newKey("click", url)}`;
}

/** The normalised URL when `text` is an absolute http(s) URL, else null. */
export function httpUrl(text: string): string | null {
  if (!/^https?:/i.test(text)) return null;
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname ? url.href : null;
  } catch {
    return null;
  }
}

/** A 1x1 transparent GIF; `text.ts` recognises it by its size to keep it out of the plain text. */
function openPixel(base: string, key: string): string {
  return (
    `<img src="${base}/o/${key}.gif" width="1" height="1" alt="" border="0" ` +
    `style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">`
  );
}
