import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_ACTIVITY_BYTES } from "../../src/engine/scenarios/activities";
import { api, expectError, ok } from "../helpers";

const template = (kb: number) => `<p>${"t".repeat(kb * 1000 - 7)}</p>`;

describe("an activity's total stored size is checked before it is written", () => {
  it("a 199 KB template with 12 translations (2.6 MB) is a 400 naming the limit, and nothing is written", async () => {
    const s = await ok("POST", "/scenarios", { name: "Heavy", model: "party" });
    const translations = Object.fromEntries(
      ["fr", "de", "es", "it", "nl", "pt", "pl", "sv", "da", "fi", "cs", "el"].map((l) => [
        l,
        { email_title: "T", email_template: template(199) },
      ]),
    );
    const heavy = {
      name: "Heavy",
      action: "send_email",
      email_title: "T",
      email_template: template(199),
      email_translations: translations,
    };
    expectError(
      await api("POST", `/scenarios/${s.id}/activities`, heavy),
      400,
      "email_translations",
      `${MAX_ACTIVITY_BYTES}`,
    );
    const n = await env.DB.prepare("SELECT count(*) AS n FROM activities WHERE scenario_id = ?")
      .bind(s.id)
      .first<{ n: number }>();
    expect(n?.n).toBe(0);
    // Four translations fit (5 × 199 KB); a PATCH that takes it past the limit is refused and changes nothing.
    const few = Object.fromEntries(Object.entries(translations).slice(0, 4));
    const a = await ok("POST", `/scenarios/${s.id}/activities`, { ...heavy, email_translations: few });
    expectError(
      await api("PATCH", `/activities/${a.id}`, { email_translations: translations }),
      400,
      `${MAX_ACTIVITY_BYTES}`,
    );
    expect(Object.keys((await ok("GET", `/activities/${a.id}`)).email_translations)).toHaveLength(4);
  });
});
