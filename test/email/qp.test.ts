import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { buildMime } from "../../src/email/mime";
import { quotedPrintable } from "../../src/email/qp";

const tricky = [
  "Plain ASCII line.",
  "Ünïcödé — “quotes” and emoji 🎉 and CJK 漢字.",
  `A very long line ${"with words and = signs ".repeat(20)}that must be soft-broken.`,
  "Trailing spaces   ",
  "Trailing tab\t",
  "\tLeading tab and = sign at the end =",
  "x".repeat(75),
  "y".repeat(76),
  "z".repeat(77),
  `${"é".repeat(30)}end`,
  "",
  ".a line starting with a dot",
].join("\n");

describe("quoted-printable", () => {
  it("keeps every line within 76 characters and only printable ASCII", () => {
    const encoded = quotedPrintable(tricky);
    for (const line of encoded.split("\r\n")) {
      expect(line.length).toBeLessThanOrEqual(76);
      expect(line).toMatch(/^[\x21-\x7e\t ]*$/);
      expect(line).not.toMatch(/[ \t]$/);
    }
    expect(quotedPrintable("a=b")).toBe("a=3Db");
    expect(quotedPrintable("end \nnext")).toBe("end=20\r\nnext");
    expect(quotedPrintable("é")).toBe("=C3=A9");
  });

  it("decodes back to the same text with a real MIME parser", async () => {
    const raw = buildMime({
      from: { name: "Shop", address: "shop@example.com" },
      to: { name: "Michael Scott", address: "michael@example.com" },
      replyTo: null,
      subject: "Round trip",
      text: tricky,
      html: `<p>${tricky.replace(/\n/g, "<br>\n")}</p>`,
      messageId: "<rt@example.com>",
      date: Date.UTC(2026, 10, 27),
      headers: {},
    });
    const parsed = await PostalMime.parse(raw);
    // (mimetext leaves a blank line before each boundary, which parsers keep as the part's last line.)
    const decoded = (s: string | undefined) => s?.replace(/\r\n/g, "\n").replace(/\n+$/, "");
    expect(decoded(parsed.text)).toBe(tricky);
    expect(decoded(parsed.html)).toBe(`<p>${tricky.replace(/\n/g, "<br>\n")}</p>`);
  });
});
