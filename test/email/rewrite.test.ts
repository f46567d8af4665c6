import { describe, expect, it } from "vitest";
import { hasConfirmLink, PREVIEW_UNSUBSCRIBE_PATH, rewriteHtml } from "../../src/email/rewrite";
import { htmlToText } from "../../src/email/text";
import { signKey } from "../../src/signing/keys";
import { BASE } from "./fixtures";

const SECRET = "test-tracking-secret-0123456789abcdef";
const rewrite = (html: string, token: string | null = "tok") =>
  rewriteHtml(html, {
    automationBase: BASE,
    token,
    linkKey: (kind, position) => signKey(SECRET, { emailId: 42, kind, position }),
  });
const hrefs = (html: string) => [...html.matchAll(/href="([^"]*)"/g)].map((m) => m[1] as string);
const pixels = (html: string) => html.match(/<img src="[^"]*\/o\/[^"]*\.gif"/g) ?? [];

describe("link rewriting", () => {
  it("replaces every http(s) link by a tracking link that keeps the original URL", async () => {
    const { html, links } = await rewrite(
      '<body><a href="https://shop.example/a?x=1&amp;y=2">A</a><a href="HTTP://Shop.Example/b">B</a>' +
        '<a href="https://shop.example/a?x=1&amp;y=2">A again</a></body>',
    );
    const clicks = links.filter((l) => l.kind === "click");
    expect(clicks.map((l) => l.url)).toEqual([
      "https://shop.example/a?x=1&y=2",
      "http://shop.example/b",
      "https://shop.example/a?x=1&y=2",
    ]);
    // One key per link, even for the same URL twice.
    expect(new Set(clicks.map((l) => l.key)).size).toBe(3);
    expect(hrefs(html)).toEqual(clicks.map((l) => `${BASE}/l/${l.key}`));
    expect(html).not.toMatch(/shop\.example/i);
    // Signed keys: the e-mail's id, the kind and the position in its URLs, and a 96-bit MAC.
    expect(clicks.map((l) => l.position)).toEqual([0, 1, 2]);
    for (const l of clicks) expect(l.key).toMatch(new RegExp(`^42-c${l.position}-[A-Za-z0-9_-]{16}$`));
  });

  it("decodes entities before reading the URL (Mustache escapes / and =)", async () => {
    const { links } = await rewrite(
      '<a href="https:&#x2F;&#x2F;shop.example&#x2F;c&#x2F;42?q&#x3D;a&amp;b=&#34;">x</a>',
    );
    expect(links[0]).toMatchObject({ kind: "click", url: "https://shop.example/c/42?q=a&b=%22" });
  });

  it("leaves mailto:, tel:, fragments, relative and other schemes alone", async () => {
    const source =
      '<a href="mailto:help@example.com">m</a><a href="tel:+3312345">t</a><a href="#top">f</a>' +
      '<a href="/relative">r</a><a href="javascript:void(0)">j</a><a href="ftp://x.example/">f</a><a name="n">n</a>';
    const { html, links } = await rewrite(source);
    expect(links.filter((l) => l.kind !== "open")).toEqual([]);
    expect(hrefs(html)).toEqual([
      "mailto:help@example.com",
      "tel:+3312345",
      "#top",
      "/relative",
      "javascript:void(0)",
      "ftp://x.example/",
    ]);
  });

  it("turns href=unsubscribe into the recipient's unsubscribe URL, not a click", async () => {
    const { html, links } = await rewrite('<a href="unsubscribe">Stop</a><a href=" Unsubscribe ">Stop</a>');
    expect(hrefs(html)).toEqual([`${BASE}/u/tok`, `${BASE}/u/tok`]);
    expect(links.map((l) => l.kind)).toEqual(["open"]);
  });

  it("turns href=confirm into the recipient's subscription-confirmation URL, not a click", async () => {
    const { html, links } = await rewrite('<a href="confirm">Yes</a><a href=" Confirm ">Yes</a>');
    expect(hrefs(html)).toEqual([`${BASE}/c/tok`, `${BASE}/c/tok`]);
    expect(links.map((l) => l.kind)).toEqual(["open"]);
    expect(hrefs((await rewrite('<a href="confirm">Yes</a>', null)).html)).toEqual([`${BASE}/c/preview`]);
    expect(hasConfirmLink('<a class="b" href="confirm">Yes</a>')).toBe(true);
    expect(hasConfirmLink("<a href='confirm'>Yes</a>")).toBe(true);
    expect(hasConfirmLink('<a href="https://x.example/confirm">Yes</a>')).toBe(false);
    expect(hasConfirmLink('<a href="confirmed">Yes</a>')).toBe(false);
  });

  it("stores the page shown after unsubscribing as a next link (http(s) only)", async () => {
    const { html, links } = await rewrite(
      '<a href="unsubscribe|https:&#x2F;&#x2F;next.example&#x2F;bye">a</a><a href="unsubscribe|javascript:alert(1)">b</a>' +
        '<a href="unsubscribe|">c</a>',
    );
    const next = links.filter((l) => l.kind === "next");
    expect(next).toEqual([
      { key: expect.stringMatching(/^42-n0-/), kind: "next", url: "https://next.example/bye", position: 0 },
    ]);
    expect(hrefs(html)).toEqual([`${BASE}/u/tok/${next[0]?.key}`, `${BASE}/u/tok`, `${BASE}/u/tok`]);
    expect(html).not.toContain("/l/");
  });

  it("escapes nothing it should not and keeps the rest of the document intact", async () => {
    const source =
      '<p class="x">Tom &amp; Jerry &lt;3</p><a href="https://a.example/" target="_blank" style="color:red">go</a>';
    const { html } = await rewrite(source);
    expect(html).toContain('<p class="x">Tom &amp; Jerry &lt;3</p>');
    expect(html).toMatch(
      /<a href="http:\/\/localhost:8787\/l\/[A-Za-z0-9_-]+" target="_blank" style="color:red">go<\/a>/,
    );
  });
});

describe("open pixel", () => {
  it("goes just before </body>, exactly once", async () => {
    const { html, links } = await rewrite("<html><body><p>Hi</p></body></html>");
    const open = links.filter((l) => l.kind === "open");
    expect(open).toEqual([{ key: expect.stringMatching(/^42-o0-/), kind: "open", url: null, position: 0 }]);
    expect(pixels(html)).toHaveLength(1);
    expect(html).toMatch(
      new RegExp(
        `<p>Hi</p><img src="${BASE}/o/${open[0]?.key}\\.gif" width="1" height="1" alt="" [^>]*></body></html>$`,
      ),
    );
  });

  it("goes at the end when there is no <body>, or no </body>", async () => {
    for (const source of ["<p>Hi</p>", "<html><body><p>Hi"]) {
      const { html } = await rewrite(source);
      expect(pixels(html)).toHaveLength(1);
      expect(html.startsWith(source)).toBe(true);
      expect(html).toMatch(/\.gif"[^>]*>$/);
    }
  });

  it("is placed once even with two bodies", async () => {
    const { html, links } = await rewrite("<body>a</body><body>b</body>");
    expect(pixels(html)).toHaveLength(1);
    expect(links.filter((l) => l.kind === "open")).toHaveLength(1);
  });
});

describe("preview mode", () => {
  it("tracks nothing: links keep their URL, unsubscribe has no token, no pixel, no key", async () => {
    const { html, links } = await rewrite(
      '<body><a href="https://shop.example/">s</a><a href="unsubscribe|https://n.example/">u</a></body>',
      null,
    );
    expect(links).toEqual([]);
    expect(hrefs(html)).toEqual(["https://shop.example/", `${BASE}${PREVIEW_UNSUBSCRIBE_PATH}`]);
    expect(pixels(html)).toHaveLength(0);
  });
});

describe("plain text", () => {
  it("keeps the (tracking) link URLs and drops the pixel", async () => {
    const { html, links } = await rewrite(
      '<body><h1>Sale</h1><p>See <a href="https://shop.example/">the shop</a>.</p></body>',
    );
    const text = htmlToText(html);
    const click = links.find((l) => l.kind === "click");
    expect(text).toContain(`the shop [${BASE}/l/${click?.key}]`);
    expect(text).not.toContain("/o/");
    expect(text).toContain("SALE");
  });
});
