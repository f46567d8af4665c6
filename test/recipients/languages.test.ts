import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { login, visit } from "../console/helpers";
import { api, expectError, ok } from "../helpers";

const translations = {
  fr: { email_title: "Bonjour {{party.name}}", email_template: '<p>Merci !</p><a href="preferences">Préférences</a>' },
  de: { email_title: "Hallo {{party.name}}", email_template: "<p>Danke!</p>" },
};

let scenarioId: string;
let activityId: string;

beforeAll(async () => {
  await ok("PUT", "/records/party/celine", { name: "Céline", email: "celine@example.com", lang: "fr_CA" });
  await ok("PUT", "/records/party/hans", { name: "Hans", email: "hans@example.com", lang: "de" });
  await ok("PUT", "/records/party/gina", { name: "Gina", email: "gina@example.com", lang: "it" });
  const s = await ok("POST", "/scenarios", { name: "Thanks", model: "party", domain: [] });
  scenarioId = s.id;
  const a = await ok("POST", `/scenarios/${scenarioId}/activities`, {
    name: "Thank you",
    action: "send_email",
    email_title: "Hello {{party.name}}",
    email_template: '<p>Thanks!</p><a href="unsubscribe">Unsubscribe</a>',
    email_translations: translations,
  });
  activityId = a.id;
});

describe("per-language content", () => {
  it("keeps the language versions on the activity", async () => {
    const a = await ok("GET", `/activities/${activityId}`);
    expect(a.email_translations).toEqual(translations);
  });

  it("checks each version when saved, naming the field", async () => {
    const bad = (email_translations: unknown) => api("PATCH", `/activities/${activityId}`, { email_translations });
    expectError(
      await bad({ fr: { email_title: "Bonjour {{#x}}", email_template: "<p/>" } }),
      400,
      "email_translations.fr.email_title: the template does not parse",
    );
    expectError(
      await bad({ fr: { email_title: "Bonjour", email_template: " " } }),
      400,
      "email_translations.fr.email_template: required",
    );
    expectError(await bad({ "fr CA": { email_title: "x", email_template: "y" } }), 400, "email_translations.fr CA");
    expectError(await bad({ fr: { email_title: "x" } }), 400, "email_translations");
    expect((await ok("GET", `/activities/${activityId}`)).email_translations).toEqual(translations);
  });

  it("previews each version: the party's by its fallback chain, or the one asked for", async () => {
    const preview = (body: Record<string, string>) =>
      ok("POST", `/activities/${activityId}/preview`, { record_model: "party", ...body });
    const celine = await preview({ record_id: "celine" });
    expect([celine.lang, celine.subject]).toEqual(["fr", "Bonjour Céline"]);
    expect(celine.html).toContain("/p/preview");
    const gina = await preview({ record_id: "gina" });
    expect([gina.lang, gina.subject]).toEqual([null, "Hello Gina"]);
    const asked = await preview({ record_id: "gina", lang: "de_AT" });
    expect([asked.lang, asked.subject]).toEqual(["de", "Hallo Gina"]);
  });

  it("sends each party the version of its language, and the default for the others", async () => {
    await ok("POST", `/scenarios/${scenarioId}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const emails = await ok("GET", `/emails?scenario_id=${scenarioId}`);
    const subjects = Object.fromEntries(emails.items.map((m: { to: string; subject: string }) => [m.to, m.subject]));
    expect(subjects).toEqual({
      '"Céline" <celine@example.com>': "Bonjour Céline",
      '"Hans" <hans@example.com>': "Hallo Hans",
      '"Gina" <gina@example.com>': "Hello Gina",
    });
    const celine = emails.items.find((m: { to: string }) => m.to.includes("celine"));
    const one = await ok("GET", `/emails/${celine.id}`);
    expect(one.headers["Content-Language"]).toBe("fr");
    // The preference link of the French e-mail opens a French page.
    const path = /href="https?:\/\/[^/"]+(\/p\/[^"]+)"/.exec(one.html)?.[1] as string;
    const page = await (await SELF.fetch(`https://ma.example${path}`)).text();
    expect(page).toContain('<html lang="fr">');
  });

  it("shows each version in the console", async () => {
    const { cookie } = await login();
    const html = await (await visit(`/console/scenarios/${scenarioId}`, { cookie })).text();
    expect(html).toContain("Subject (fr)");
    expect(html).toContain("Bonjour {{party.name}}");
    expect(html).toContain("Subject (de)");
  });
});
