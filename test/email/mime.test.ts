import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { encodeUnstructured, encodeWords } from "../../src/email/headers";
import { BASE, config, job } from "./fixtures";

const NOW = Date.UTC(2026, 10, 27, 14, 0, 0);
const header = (email: { headers: { key: string; value: string }[] }, key: string) =>
  email.headers.find((h) => h.key === key.toLowerCase())?.value;
/** Line ends as LF, without the blank lines that close a part. */
const lf = (text: string | undefined) => (text ?? "").replace(/\r\n/g, "\n").trimEnd();
/** The header block of the message, unfolded. */
const head = (raw: string) => (raw.split("\r\n\r\n")[0] as string).replace(/\r\n[ \t]/g, " ");

describe("MIME message", () => {
  it("is multipart/alternative with a text and an HTML part and every header", async () => {
    const j = job({ title: "Hello {{party.name}} & friends" });
    const m = await composeEmail(j, config(), NOW, 1);
    const raw = m.raw;
    expect(raw).not.toMatch(/[^\r]\n/); // CRLF only
    expect(head(raw)).toMatch(/^Content-Type: multipart\/alternative; boundary=/m);
    expect(raw).toMatch(/Content-Type: text\/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable/);
    expect(raw).toMatch(/Content-Type: text\/html; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable/);
    expect(raw.indexOf("text/plain")).toBeLessThan(raw.indexOf("text/html"));

    const parsed = await PostalMime.parse(raw);
    expect(parsed.from).toEqual({ name: "Marketing", address: "marketing@example.com" });
    expect(parsed.to).toEqual([{ name: "Michael Scott", address: "michael@example.com" }]);
    expect(head(raw)).toContain('To: "Michael Scott" <michael@example.com>');
    expect(parsed.subject).toBe("Hello Michael Scott & friends");
    expect(head(raw)).toContain("Subject: Hello Michael Scott & friends"); // plain ASCII is not encoded
    expect(parsed.messageId).toBe(m.messageId);
    expect(m.messageId).toMatch(/^<1\.[A-Za-z0-9_-]{16}@example\.com>$/);
    expect(header(parsed, "Date")).toBe("Fri, 27 Nov 2026 14:00:00 +0000");
    expect(header(parsed, "MIME-Version")).toBe("1.0");
    expect(header(parsed, "List-Unsubscribe")).toBe(`<${BASE}/u/${j.scenarioRecord.token}>`);
    expect(header(parsed, "List-Unsubscribe-Post")).toBe("List-Unsubscribe=One-Click");
    expect(parsed.replyTo).toBeUndefined();
    expect(lf(parsed.html)).toBe(lf(m.html));
    expect(lf(parsed.text)).toBe(lf(m.text));
    expect(parsed.html).toContain(`${BASE}/o/`);
    expect(parsed.text).toContain(`${BASE}/l/`);
    expect(parsed.text).not.toContain(`${BASE}/o/`);
  });

  it("archives the same headers, decoded", async () => {
    const j = job();
    const m = await composeEmail(j, config(), NOW, 1);
    expect(m.headers).toEqual({
      From: '"Marketing" <marketing@example.com>',
      To: '"Michael Scott" <michael@example.com>',
      Subject: "Hello Michael Scott",
      Date: "Fri, 27 Nov 2026 14:00:00 +0000",
      "Message-ID": m.messageId,
      "MIME-Version": "1.0",
      "List-Id": "<scenario-7.example.com>",
      "List-Unsubscribe": `<${BASE}/u/${j.scenarioRecord.token}>`,
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    });
  });

  it("sends From the activity's address when it is on the configured sender's domain", async () => {
    const m = await composeEmail(job({ from: "Sales <sales@EXAMPLE.com>" }), config(), NOW, 1);
    const parsed = await PostalMime.parse(m.raw);
    // The domain goes out as checked addresses do: lower-cased (and punycoded when it is an IDN).
    expect(parsed.from).toEqual({ name: "Sales", address: "sales@example.com" });
    expect(parsed.replyTo).toBeUndefined();
    expect(m.messageId).toMatch(/@example\.com>$/);
  });

  it("sends From the configured address with the activity's address as Reply-To on another domain", async () => {
    const m = await composeEmail(job({ from: "Dwight <dwight@dunder.example>" }), config(), NOW, 1);
    const parsed = await PostalMime.parse(m.raw);
    expect(parsed.from).toEqual({ name: "Dwight", address: "marketing@example.com" });
    expect(parsed.replyTo).toEqual([{ name: "Dwight", address: "dwight@dunder.example" }]);
    expect(m.headers["Reply-To"]).toBe('"Dwight" <dwight@dunder.example>');
    const bare = await composeEmail(job({ from: "dwight@dunder.example" }), config(), NOW, 1);
    expect((await PostalMime.parse(bare.raw)).from).toEqual({ name: "Marketing", address: "marketing@example.com" });
  });

  it("encodes non-ASCII subjects and names, and folds long subjects", async () => {
    const name = 'Zoë "Z" Ünal — 日本 and a name long enough to need more than one encoded word';
    const title = `Très long sujet pour {{party.name}}: ${"ça ".repeat(60)}🎉`;
    const j = job({ title, party: { id: "z", fields: { name, email: "zoe@example.com" } } });
    const m = await composeEmail(j, config(), NOW, 1);
    for (const line of m.raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(78);
    const parsed = await PostalMime.parse(m.raw);
    expect(parsed.to).toEqual([{ name, address: "zoe@example.com" }]);
    expect(parsed.subject).toBe(m.subject);
    expect(m.subject.endsWith("🎉")).toBe(true);
    const longAscii = "A".repeat(70);
    const n = await composeEmail(
      job({ party: { id: "l", fields: { name: longAscii, email: "l@example.com" } } }),
      config(),
      NOW,
      1,
    );
    for (const line of n.raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(78);
    expect((await PostalMime.parse(n.raw)).to).toEqual([{ name: longAscii, address: "l@example.com" }]);
  });

  it("keeps bodies intact through quoted-printable: UTF-8, long lines, trailing spaces, '='", async () => {
    const long = "x".repeat(300);
    const template = `<body><p>Ünïcødé ✓ a=b ${long} </p>\n<p>end. \n.\nline</p></body>`;
    const m = await composeEmail(job({ template }), config(), NOW, 1);
    const parsed = await PostalMime.parse(m.raw);
    expect(lf(parsed.html)).toBe(lf(m.html));
    expect(parsed.html).toContain(`Ünïcødé ✓ a=b ${long} </p>`);
  });

  it("folds ASCII subjects at spaces and encodes what is not ASCII", () => {
    const folded = encodeUnstructured("Subject", "word ".repeat(40).trim());
    expect(folded.split("\r\n ").every((l) => l.length <= 78)).toBe(true);
    expect(folded.replace(/\r\n /g, " ")).toBe("word ".repeat(40).trim());
    expect(encodeWords("é")).toBe("=?UTF-8?B?w6k=?=");
  });
});

describe("recipient", () => {
  it("fails when the party has no address or an unusable one", async () => {
    await expect(composeEmail(job({ party: null }), config(), NOW, 1)).rejects.toThrow(
      "the party has no e-mail address",
    );
    await expect(composeEmail(job({ party: { id: "p", fields: { name: "X" } } }), config(), NOW, 1)).rejects.toThrow(
      "the party has no e-mail address",
    );
    await expect(
      composeEmail(job({ party: { id: "p", fields: { email: "not an address" } } }), config(), NOW, 1),
    ).rejects.toThrow("not valid");
  });

  it("uses the bare address when the party has no name", async () => {
    const m = await composeEmail(job({ party: { id: "p", fields: { email: "jim@example.com" } } }), config(), NOW, 1);
    expect(m.headers.To).toBe("jim@example.com");
    expect((await PostalMime.parse(m.raw)).to).toEqual([{ name: "", address: "jim@example.com" }]);
  });
});
