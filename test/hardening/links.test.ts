import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signKey, verifyKey } from "../../src/signing/keys";
import { ok } from "../helpers";

const SECRET = "test-tracking-secret-0123456789abcdef";

describe("every link of an e-mail is tracked, whatever its position", () => {
  it("a key past position 9,999 verifies", async () => {
    for (const position of [10_000, 10_200, 999_999_999]) {
      const key = await signKey(SECRET, { emailId: 1_234_567_890_123_456, kind: "click", position });
      expect(key.length).toBeLessThanOrEqual(64);
      expect(await verifyKey(SECRET, key)).toEqual({ emailId: 1_234_567_890_123_456, kind: "click", position });
    }
  });

  it("an e-mail with 10,201 links: the last one redirects to its URL", async () => {
    // A section repeated over a field: the template stays small, the e-mail has 10,201 links.
    const items = Array.from({ length: 10_201 }, (_, i) => i);
    await ok("PUT", "/records/party/many-links", { name: "Many", email: "many-links@example.com", items });
    const s = await ok("POST", "/scenarios", {
      name: "Many links",
      model: "party",
      domain: [["id", "=", "many-links"]],
    });
    const links = '{{#party.items}}<a href="https://shop.example/p/{{.}}">x</a>{{/party.items}}';
    await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "Mail",
      action: "send_email",
      email_title: "Links",
      email_template: `<p>${links}</p>`,
    });
    await ok("POST", `/scenarios/${s.id}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const list = await ok("GET", `/emails?scenario_id=${s.id}`);
    const email = await ok("GET", `/emails/${list.items[0].id}`);
    const keys = [...(email.html as string).matchAll(/\/l\/([A-Za-z0-9_-]+)/g)].map((m) => m[1] as string);
    expect(keys).toHaveLength(10_201);
    const last = keys[10_200] as string;
    expect(last).toContain("-c10200-");
    const res = await SELF.fetch(`http://localhost:8787/l/${last}`, { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example/p/10200");
  }, 60_000);
});
