import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { openTracking } from "../../src/email/rewrite";
import { htmlToText } from "../../src/email/text";
import { BASE, config, job } from "./fixtures";

const NOW = Date.UTC(2026, 10, 27, 14, 0, 0);

describe("what mail filters read", () => {
  it("names the scenario's list in List-Id (RFC 2919), under the sender's domain, the same for each of its e-mails", async () => {
    const a = await composeEmail(job(), config(), NOW, 1);
    const b = await composeEmail(job({ title: "Another one" }), config(), NOW, 2);
    const other = await composeEmail(job({ scenario: { id: 8, name: "Other" } }), config(), NOW, 3);
    expect(a.headers["List-Id"]).toBe("<scenario-7.example.com>");
    expect(b.headers["List-Id"]).toBe("<scenario-7.example.com>");
    expect(other.headers["List-Id"]).toBe("<scenario-8.example.com>");
    const parsed = await PostalMime.parse(a.raw);
    expect(parsed.headers.find((h) => h.key === "list-id")?.value).toBe("<scenario-7.example.com>");
    // The scenario's name is the marketers' own: it is not shown to the recipient.
    expect(a.raw).not.toContain("Welcome <scenario");
  });

  it("puts the open pixel in an e-mail whose activity tracks opens, and none in one that does not", async () => {
    const tracked = await composeEmail(job(), config(), NOW, 1);
    expect(tracked.html).toContain(`${BASE}/o/`);
    expect(tracked.links.filter((l) => l.kind === "open")).toHaveLength(1);

    const j = job();
    j.activity.openTracking = false;
    const untracked = await composeEmail(j, config(), NOW, 2);
    expect(untracked.html).not.toContain("/o/");
    expect(untracked.html).not.toContain("<img");
    expect(untracked.links.map((l) => l.kind)).toEqual(["click"]);
    // Clicks are still tracked.
    expect(untracked.html).toContain(`${BASE}/l/`);
  });

  it("tracks opens unless the activity says not to, or is a confirmation e-mail and does not say to", () => {
    const mail = { settings: null, emailTemplate: "<p>Hi</p>", emailTranslations: null };
    const confirmation = { ...mail, emailTemplate: '<a href="confirm">Yes</a>' };
    expect(openTracking(mail)).toBe(true);
    expect(openTracking({ ...mail, settings: { open_tracking: false } })).toBe(false);
    expect(openTracking(confirmation)).toBe(false);
    expect(openTracking({ ...confirmation, settings: { open_tracking: true } })).toBe(true);
    // A confirmation link in any language version makes a confirmation e-mail.
    const translated = { ...mail, emailTranslations: { fr: { email_template: '<a href="confirm">Oui</a>' } } };
    expect(openTracking(translated)).toBe(false);
  });
});

describe("the plain text of images", () => {
  it("gives a linked image its alt text and the link, never the image's address glued to the link", async () => {
    const template =
      '<html><body><p><a href="https://shop.example/"><img src="https://cdn.example/logo.png" alt="Shop logo"></a></p>' +
      '<p><a href="https://shop.example/sale"><img src="https://cdn.example/banner.png"></a></p>' +
      '<p><img src="https://cdn.example/hero.jpg" alt="Autumn sale"> <a href="https://shop.example/b">Buy</a></p>' +
      "</body></html>";
    const m = await composeEmail(job({ template }), config(), NOW, 1);
    const [logo, banner, buy] = m.links.filter((l) => l.kind === "click");
    expect(m.text).not.toContain("cdn.example");
    expect(m.text).toContain(`Shop logo [${BASE}/l/${logo?.key}]`);
    expect(m.text).toContain(`${BASE}/l/${banner?.key}`);
    expect(m.text).not.toContain(`[${BASE}/l/${banner?.key}]`); // a link with no text is its URL alone
    expect(m.text).toContain(`Autumn sale Buy [${BASE}/l/${buy?.key}]`);
    expect(m.text).not.toContain("/o/");
  });

  it("drops images without alt text and 1x1 pixels", () => {
    expect(
      htmlToText(
        '<p>Hi<img src="https://x.example/a.png"><img src="https://t.example/p.gif" width="1" height="1" alt="pixel"></p>',
      ),
    ).toBe("Hi");
  });
});
