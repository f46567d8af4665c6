import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { checkEmailAddress } from "../../src/email/address";
import { recordActivities } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

describe("addresses checked at the door", () => {
  it("accepts what real senders send to, and punycodes IDN domains", () => {
    for (const a of [
      "michael@example.com",
      "o'brien+news@mail.example.co.uk",
      "a.b-c_d@x-y.example",
      "x@localhost.example",
    ]) {
      expect(checkEmailAddress(a), a).toMatchObject({ ok: true, address: a });
    }
    expect(checkEmailAddress("Jürgen@Bücher.example")).toEqual({
      ok: false,
      problem: "has a character that is not allowed in its local part",
    });
    expect(checkEmailAddress("jurgen@Bücher.Example")).toEqual({
      ok: true,
      address: "jurgen@xn--bcher-kva.example",
      normalized: "jurgen@xn--bcher-kva.example",
    });
    expect(checkEmailAddress("Michael@Example.COM")).toMatchObject({
      address: "Michael@example.com",
      normalized: "michael@example.com",
    });
  });

  it("refuses control and invisible characters, empty and dotted-out parts, over-long parts, literals", () => {
    const refused: [string, string][] = [
      ["mi\u200bchael@example.com", "invisible"],
      ["michael@exa\u00admple.com", "invisible"],
      ["michael\u0000@example.com", "control"],
      ["mi\u202echael@example.com", "invisible"],
      ["michael @example.com", "space"],
      ["michaelexample.com", '"@"'],
      ["@example.com", "empty local part"],
      ["michael@", "empty domain"],
      [".michael@example.com", "empty part"],
      ["michael.@example.com", "empty part"],
      ["mi..chael@example.com", "empty part"],
      ["michael@example..com", "empty part"],
      ["michael@.example.com", "empty part"],
      ["michael@example.com.", "empty part"],
      ['"michael scott"@example.com', "space"],
      ['"michael"@example.com', "quoted"],
      ["a@b@example.com", 'more than one "@"'],
      ["michael@[192.168.0.1]", "address literal"],
      ["michael@192.168.0.1", "not a valid host name"],
      ["michael@localhost", "without a dot"],
      ["michael@exa_mple.com", "not allowed in its domain"],
      ["michael@-example.com", "not allowed in its domain"],
      ["michael@example.123", "not a valid host name"],
      [`${"a".repeat(65)}@example.com`, "longer than 64"],
      [`a@${"b".repeat(64)}.example`, "label longer than 63"],
      [`${"a".repeat(64)}@${`${"b".repeat(60)}.`.repeat(3)}example.com`, "longer than 254"],
      ["mich(ael)@example.com", "not allowed in its local part"],
    ];
    for (const [address, fragment] of refused) {
      const r = checkEmailAddress(address);
      expect(r.ok, address).toBe(false);
      if (!r.ok) expect(r.problem, address).toContain(fragment);
    }
  });

  it("a record written with an invalid address is a 400 naming the field; nothing is stored", async () => {
    expectError(
      await api("PUT", "/records/party/bad1", { name: "Bad", email: "bad\u200b@example.com" }),
      400,
      "email: not an address e-mail can be sent to",
      "invisible",
    );
    expectError(
      await api("POST", "/records/party/batch", {
        records: [
          { id: "ok1", email: "ok1@example.com" },
          { id: "bad2", email: "bad2@[10.0.0.1]" },
        ],
      }),
      400,
      "records[1].email",
      "address literal",
    );
    expect((await api("GET", "/records/party/bad1")).status).toBe(404);
    expect((await api("GET", "/records/party/ok1")).status).toBe(404);
    expect((await api("PUT", "/records/party/good", { email: "good@bücher.example" })).status).toBe(201);
  });

  it("an address stored before the check that no longer passes ends its record activity failed, never a send", async () => {
    await ok("PUT", "/records/party/legacy", { name: "Legacy", email: "legacy@example.com" });
    // Written before addresses were checked (or straight into D1): a zero-width space inside.
    await env.DB.prepare(
      "UPDATE records SET fields = json_set(fields, '$.email', ?) WHERE model = 'party' AND id = 'legacy'",
    )
      .bind("leg\u200bacy@example.com")
      .run();
    const scenario = await ok("POST", "/scenarios", {
      name: "Legacy",
      model: "party",
      domain: [["id", "=", "legacy"]],
    });
    await ok("POST", `/scenarios/${scenario.id}/activities`, {
      name: "Mail",
      action: "send_email",
      email_title: "Hi",
      email_template: "<p>Hi</p>",
    });
    await ok("POST", `/scenarios/${scenario.id}/run`);
    await ok("POST", "/jobs/enroll");
    await ok("POST", "/jobs/process");
    const [ra] = await recordActivities(scenario.id);
    expect(ra).toMatchObject({ state: "failed" });
    expect(ra?.reason).toContain(
      "the party's e-mail address is not valid: it contains a control or invisible character",
    );
    expect((await ok("GET", `/emails?scenario_id=${scenario.id}`)).items).toEqual([]);
  });
});
