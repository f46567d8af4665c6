import { describe, expect, it } from "vitest";
import { packLinkUrls, unpackLinkUrls } from "../../src/email/link-urls";

const utf8 = (text: string) => new TextEncoder().encode(text).length;

/** The storage bench's template: ten product links of one shop, the record's id in each. */
const BENCH_URLS = Array.from(
  { length: 10 },
  (_, i) => `https://shop.example/products/${i}?ref=st1523&utm_source=mail`,
);

/** `link_urls` as e-mails archived before the front coding stored it: deflated JSON (`z:`), or the JSON itself. */
const OLD_DEFLATED =
  "z:i1bKKCkpKLbS1y/OyC/QS61IzC3ISdUvKMpPKU0uKdY3sC9KTbMtLjFXKy3JjS/OLy1KTrXNTczMUdIhoNOQbJ1GZOs0JlunCdk6TcnWaUa2TnOydVqQrdMSp85YAA==";
const OLD_DEFLATED_URLS = Array.from(
  { length: 10 },
  (_, i) => `https://shop.example/products/${i}?ref=st7&utm_source=mail`,
);

describe("link_urls", () => {
  it("decodes what e-mails archived before stored: deflated JSON and plain JSON", async () => {
    expect(await unpackLinkUrls(OLD_DEFLATED)).toEqual(OLD_DEFLATED_URLS);
    expect(await unpackLinkUrls('["https://a.example/","https://b.example/x"]')).toEqual([
      "https://a.example/",
      "https://b.example/x",
    ]);
    expect(await unpackLinkUrls(null)).toEqual([]);
  });

  it("stores an e-mail's URLs as what differs from the URL before: the bench's ten links in under 100 bytes", async () => {
    const packed = (await packLinkUrls(BENCH_URLS)) as string;
    expect(packed.startsWith("f:")).toBe(true);
    expect(utf8(packed)).toBeLessThan(100);
    // The deflated JSON written before took a third more.
    expect(utf8(packed)).toBeLessThan(OLD_DEFLATED.length - 30);
    expect(await unpackLinkUrls(packed)).toEqual(BENCH_URLS);
  });

  it("deflates the coded list when that is shorter (many URLs that differ at both ends)", async () => {
    const urls = Array.from(
      { length: 30 },
      (_, i) => `https://shop.example/c/${i * 37}/item-${i}?utm_source=mail&utm_medium=email&utm_campaign=w${i % 3}`,
    );
    const packed = (await packLinkUrls(urls)) as string;
    expect(packed.startsWith("y:")).toBe(true);
    expect(packed).toMatch(/^y:[A-Za-z0-9_-]+$/);
    expect(await unpackLinkUrls(packed)).toEqual(urls);
  });

  it("round-trips URLs that share nothing, repeat, carry non-ASCII text or share more than 2,015 characters", async () => {
    const long = `https://shop.example/${"a".repeat(3000)}`;
    const cases = [
      ["https://shop.example/"],
      ["http://plain.example/", "mailto:x@example.com", "https://shop.example/"],
      ["https://shop.example/a", "https://shop.example/a", "https://shop.example/a"],
      ["https://shop.example/é?q=ü", "https://shop.example/ß?q=ü", "https://例え.jp/パス"],
      [`${long}/1`, `${long}/2`, `x${long}`, long, `${long}${long}`],
      ["https://shop.example/a", "https://shop.example/", "https://shop.example/ab"],
    ];
    for (const urls of cases) expect(await unpackLinkUrls(await packLinkUrls(urls)), urls[0]).toEqual(urls);
  });

  it("keeps a list with a line break in a URL the older way, and an empty list as null", async () => {
    const urls = ["https://shop.example/a\nb", "https://shop.example/c"];
    const packed = (await packLinkUrls(urls)) as string;
    expect(packed.startsWith("f:") || packed.startsWith("y:")).toBe(false);
    expect(await unpackLinkUrls(packed)).toEqual(urls);
    expect(await packLinkUrls([])).toBeNull();
  });
});
