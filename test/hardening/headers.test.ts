import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { encodeMailbox, encodeUnstructured, visibleHeaderText } from "../../src/email/headers";
import { config, job } from "../email/fixtures";

const NOW = Date.UTC(2026, 10, 27, 14, 0, 0);
const head = (raw: string) => (raw.split("\r\n\r\n")[0] as string).replace(/\r\n[ \t]/g, " ");

/** A message whose subject template and recipient name are the given texts, parsed back as a mail client would. */
async function parsedWith(subject: string, name: string) {
  const j = job({ title: subject });
  if (j.party) j.party.fields.name = name;
  j.record.fields.name = name;
  const m = await composeEmail(j, config(), NOW, 1);
  return { raw: m.raw, parsed: await PostalMime.parse(m.raw) };
}

describe("header safety beyond CR/LF", () => {
  it("a subject or name that looks like an RFC 2047 encoded word is shown literally, not decoded", async () => {
    const lookalike = "=?UTF-8?B?UGF5IG5vdw==?="; // "Pay now" once decoded
    const { raw, parsed } = await parsedWith(`Hello ${lookalike}`, lookalike);
    expect(parsed.subject).toBe(`Hello ${lookalike}`);
    expect(parsed.to?.[0]?.name).toBe(lookalike);
    expect(head(raw)).not.toContain(`Subject: Hello ${lookalike}`);
    // Q encoding and lower case are encoded words too.
    expect(encodeUnstructured("Subject", "=?utf-8?q?Pay_now?=")).toMatch(/^=\?UTF-8\?B\?/);
    expect(encodeMailbox({ name: "=?iso-8859-1?Q?x?=", address: "a@example.com" })).toMatch(/^=\?UTF-8\?B\?/);
  });

  it("control and invisible characters are shown as U+FFFD, never passed on to the reader", async () => {
    const sneaky = "Invoice \u202Egpj.exe\u202C \u200Bpaid\u0007\u0085\u00ad\u2066x\u2069\uFEFF\u{E0041}";
    const { parsed } = await parsedWith(`{{party.name}}`, sneaky);
    const shown = [parsed.subject as string, parsed.to?.[0]?.name as string];
    for (const text of shown) {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is checked
      expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/u);
      expect(text).not.toMatch(/[\u{e0000}-\u{e007f}]/u);
      expect(text).toContain("\ufffd");
      expect(text).toContain("gpj.exe");
    }
  });

  it("keeps what readers need: plain text as is, accents encoded, emoji sequences whole", () => {
    expect(visibleHeaderText("Hello, Michael")).toBe("Hello, Michael");
    expect(visibleHeaderText("line\r\nbreak\ttab")).toBe("line break tab");
    expect(visibleHeaderText("Zoë 👩\u200D💻 ❤\uFE0F\u200D🔥")).toBe("Zoë 👩\u200D💻 ❤\uFE0F\u200D🔥");
    expect(visibleHeaderText("a\u200Db")).toBe("a\ufffdb");
    expect(encodeUnstructured("Subject", "Plain ASCII subject")).toBe("Plain ASCII subject");
  });
});
