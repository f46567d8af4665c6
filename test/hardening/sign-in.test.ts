import { describe, expect, it } from "vitest";
import { SIGN_IN_FAILURES } from "../../src/http/sign-in-throttle";
import { visit } from "../console/helpers";
import { api, TOKEN } from "../helpers";

const from = (address: string) => ({ "cf-connecting-ip": address });

describe("sign-in abuse is rate-limited", () => {
  it(`after ${SIGN_IN_FAILURES} bad API tokens a minute, an address gets 429 with Retry-After, even with the right token`, async () => {
    const headers = from("203.0.113.7");
    for (let i = 0; i < SIGN_IN_FAILURES; i++) {
      expect((await api("GET", "/models", undefined, { token: `guess-${i}`, headers })).status).toBe(401);
    }
    const limited = await api("GET", "/models", undefined, { token: "guess-last", headers });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toEqual({
      code: "rate_limited",
      message: expect.stringContaining("too many failed sign-ins from this address"),
    });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Guessing right now gains nothing: the address is refused until the minute is over.
    expect((await api("GET", "/models", undefined, { token: TOKEN, headers })).status).toBe(429);
    // Other addresses are not affected.
    expect((await api("GET", "/models", undefined, { headers: from("203.0.113.8") })).status).toBe(200);
  });

  it("an address that signs in right is never counted, however many calls it makes", async () => {
    const headers = from("203.0.113.20");
    for (let i = 0; i < SIGN_IN_FAILURES + 5; i++) {
      expect((await api("GET", "/models", undefined, { headers })).status).toBe(200);
    }
  });

  it("repeated failed console sign-ins get the sign-in page with 429 and Retry-After", async () => {
    const headers = from("198.51.100.9");
    const login = (token: string) => visit("/console/login", { form: { token, next: "/console/scenarios" }, headers });
    for (let i = 0; i < SIGN_IN_FAILURES; i++) expect((await login(`wrong-${i}`)).status).toBe(401);
    const limited = await login("wrong-again");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBeTruthy();
    expect(await limited.text()).toContain("Too many failed sign-ins from this address");
    expect((await login(TOKEN)).status).toBe(429);
    // The API shares the count: the same address is refused there too.
    expect((await api("GET", "/models", undefined, { headers })).status).toBe(429);
  });
});
