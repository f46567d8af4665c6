import { compile } from "html-to-text";

/**
 * The plain-text alternative of an HTML body (html-to-text, compiled once: it runs for every e-mail). Links keep their
 * URL in brackets, which are the tracking URLs once the body is rewritten; 1x1 images (the open pixel, and any other
 * tracking pixel) are dropped; other images show their alt text and address.
 */
const convert = compile({
  wordwrap: 78,
  selectors: [
    { selector: "a", options: { hideLinkHrefIfSameAsText: true } },
    { selector: 'img[width="1"][height="1"]', format: "skip" },
    { selector: "style", format: "skip" },
    { selector: "script", format: "skip" },
  ],
});

export function htmlToText(html: string): string {
  return convert(html);
}
