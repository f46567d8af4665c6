import { compile } from "html-to-text";

/**
 * The plain-text alternative of an HTML body (html-to-text, compiled once: it runs for every e-mail). Links keep their
 * URL in brackets, which are the tracking URLs once the body is rewritten; 1x1 images (the open pixel, and any other
 * tracking pixel) are dropped; other images show their alt text only, never their address: an image URL means nothing
 * to a reader of the text, and inside a link it would run into the link's URL (`logo.png]https://…/l/key`). A linked
 * image thus reads `Shop logo [https://…/l/key]`, or the bare link when the image has no alt text.
 */
const convert = compile({
  wordwrap: 78,
  formatters: {
    imageAlt(elem, _walk, builder) {
      const alt = (elem.attribs?.alt ?? "").trim();
      if (alt) builder.addInline(alt);
    },
  },
  selectors: [
    { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
    { selector: "img", format: "imageAlt" },
    { selector: 'img[width="1"][height="1"]', format: "skip" },
    { selector: "style", format: "skip" },
    { selector: "script", format: "skip" },
  ],
});

export function htmlToText(html: string): string {
  return convert(html);
}
