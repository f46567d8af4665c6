import { describe, expect, it } from "vitest";
import { checkMailbox, parseAddress } from "../../src/env";
import { api, expectError, ok } from "../helpers";

const mail = { action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" };

describe("every address that reaches a header is checked as a record's address is", () => {
  it("an activity's email_from with a NUL byte or a zero-width character is a 400 naming the field", async () => {
    const s = await ok("POST", "/scenarios", { name: "From check", model: "party", domain: [] });
    for (const from of [
      "Name <a@example.com\u0000>",
      "x <a\u200b@example.com>",
      "a\u200b@example.com",
      "Na\u0000me <a@example.com>",
      "Evil\r\nBcc: x@example.com <a@example.com>",
      "x <a@localhost>",
    ]) {
      const res = await api("POST", `/scenarios/${s.id}/activities`, { name: "m", ...mail, email_from: from });
      expectError(res, 400, "email_from:");
      expect(res.body.error.message).toMatch(/character|domain/);
    }
    const a = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "m",
      ...mail,
      email_from: "Sales <sales@example.com>",
    });
    expectError(
      await api("PATCH", `/activities/${a.id}`, { email_from: "x <a\u200b@example.com>" }),
      400,
      "email_from:",
    );
  });

  it("the sender's parser refuses what the record check refuses, and says why", () => {
    expect(parseAddress("Name <a@example.com\u0000>")).toBeNull();
    expect(parseAddress("x <a\u200b@example.com>")).toBeNull();
    expect(checkMailbox("x <a\u200b@example.com>")).toMatchObject({
      ok: false,
      problem: expect.stringContaining("invisible"),
    });
    expect(parseAddress('"Sales team" <Sales@Example.COM>')).toEqual({
      name: "Sales team",
      address: "Sales@example.com",
    });
  });
});
