import { describe, expect, it } from "vitest";
import { composeEmail } from "../../src/email/compose";
import { ComposeError, renderBody, renderSubject, templateView } from "../../src/email/render";
import { config, job } from "./fixtures";

describe("template view", () => {
  it("holds the record with its id, the party with its id, the scenario and the activity", () => {
    const j = job({
      record: { model: "sale", id: "S1", fields: { total: 12, party: "p1" } },
      party: { id: "p1", fields: { name: "Pam", email: "pam@example.com" } },
    });
    expect(templateView(j)).toEqual({
      record: { total: 12, party: "p1", id: "S1" },
      party: { name: "Pam", email: "pam@example.com", id: "p1" },
      scenario: { id: "7", name: "Welcome" },
      activity: { id: "70", name: "Welcome e-mail" },
    });
  });

  it("gives an empty party when there is none", () => {
    expect(templateView(job({ party: null })).party).toEqual({});
  });
});

describe("rendering", () => {
  const hostile = templateView(
    job({
      party: { id: "p", fields: { name: `<script>alert("x")</script> & 'Co' {{party.email}}`, email: "a@b.example" } },
    }),
  );

  it("escapes record values in the body", () => {
    const html = renderBody("<p>{{party.name}}</p>", hostile);
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;");
    expect(html).toContain("&quot;x&quot;");
    expect(html).toContain("&amp;");
    expect(html).toContain("&#39;Co&#39;");
    // A value is never rendered as a template.
    expect(html).toContain("{{party.email}}");
    expect(html).not.toContain("a@b.example");
  });

  it("does not HTML-escape the subject, and keeps it on one line", () => {
    expect(renderSubject("Hi {{party.name}}", hostile)).toBe(`Hi <script>alert("x")</script> & 'Co' {{party.email}}`);
    const multiline = templateView(job({ party: { id: "p", fields: { name: "Ann\r\nBcc: x@evil.example" } } }));
    expect(renderSubject("Hi {{party.name}}", multiline)).toBe("Hi Ann Bcc: x@evil.example");
  });

  it("leaves Mustache's global escape alone", async () => {
    renderSubject("{{party.name}}", hostile);
    const Mustache = (await import("mustache")).default;
    expect(Mustache.render("{{x}}", { x: "<b>" })).toBe("&lt;b&gt;");
  });

  it("renders sections, missing values and triple mustaches as Mustache does", () => {
    const view = templateView(
      job({ record: { model: "party", id: "r", fields: { items: [{ n: "a" }, { n: "b" }] } } }),
    );
    expect(renderBody("{{#record.items}}[{{n}}]{{/record.items}}{{record.missing}}", view)).toBe("[a][b]");
    expect(
      renderBody("{{{record.id}}}", templateView(job({ record: { model: "party", id: "<i>", fields: {} } }))),
    ).toBe("<i>");
  });

  it("turns a template that cannot be rendered into a ComposeError with the reason", async () => {
    expect(() => renderBody("{{#open}}", templateView(job()))).toThrow(ComposeError);
    expect(() => renderBody("{{#open}}", templateView(job()))).toThrow(/template cannot be rendered: Unclosed section/);
    await expect(composeEmail(job({ title: "{{/x}}" }), config(), Date.now(), 1)).rejects.toThrow(
      /subject cannot be rendered/,
    );
  });
});
