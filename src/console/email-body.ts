import { decodeHTMLAttribute, escapeAttribute } from "entities";
import type { LinkKind } from "../db/schema/emails";

/**
 * The archived HTML made safe to look at: looking at an e-mail in the console must not fire its tracking. Short links
 * point at their stored destination again, the recipient's unsubscribe links go nowhere, and the open pixel is
 * removed. What remains is shown in a sandboxed frame whose CSP loads no remote resource anyway.
 */
export async function viewableHtml(
  html: string,
  automationBase: string,
  links: readonly { key: string; kind: LinkKind; url: string | null }[],
): Promise<string> {
  const destination = new Map(links.filter((l) => l.kind === "click").map((l) => [l.key, l.url]));
  const click = `${automationBase}/l/`;
  const unsubscribe = `${automationBase}/u/`;
  const pixel = `${automationBase}/o/`;
  const rewriter = new HTMLRewriter()
    .on("a[href]", {
      element(a) {
        const href = decodeHTMLAttribute(a.getAttribute("href") ?? "").trim();
        if (href.startsWith(click)) {
          const url = destination.get(href.slice(click.length));
          a.setAttribute("href", url ? escapeAttribute(url) : "#");
          a.setAttribute("title", "Tracking link, shown with its destination (not followed from the console)");
        } else if (href.startsWith(unsubscribe)) {
          a.setAttribute("href", "#");
          a.setAttribute("title", "The recipient's unsubscribe link (disabled in the console)");
        }
      },
    })
    .on("img[src]", {
      element(img) {
        if (decodeHTMLAttribute(img.getAttribute("src") ?? "").startsWith(pixel)) img.remove();
      },
    })
    .on("meta[http-equiv], base", {
      element(el) {
        el.remove();
      },
    });
  return rewriter.transform(new Response(html)).text();
}
