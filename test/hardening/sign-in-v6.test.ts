import { describe, expect, it } from "vitest";
import { SIGN_IN_FAILURES, throttleKey } from "../../src/http/sign-in-throttle";
import { api, TOKEN } from "../helpers";

const from = (address: string) => ({ "cf-connecting-ip": address });

describe("the sign-in throttle keys an IPv6 client on its /64", () => {
  it("keys addresses of one /64 alike, whatever their spelling", () => {
    expect(throttleKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(throttleKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(throttleKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(throttleKey("2001:db8:1:3::1")).not.toBe(throttleKey("2001:db8:1:2::1"));
    expect(throttleKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(throttleKey("203.0.113.7")).toBe("203.0.113.7");
  });

  it(`${SIGN_IN_FAILURES} failures from as many addresses of one /64 refuse the whole /64`, async () => {
    for (let i = 0; i < SIGN_IN_FAILURES; i++) {
      const headers = from(`2001:db8:77:1::${(i + 1).toString(16)}`);
      expect((await api("GET", "/models", undefined, { token: `guess-${i}`, headers })).status).toBe(401);
    }
    const another = from("2001:db8:77:1:abcd::99");
    expect((await api("GET", "/models", undefined, { token: "guess-last", headers: another })).status).toBe(429);
    expect((await api("GET", "/models", undefined, { token: TOKEN, headers: another })).status).toBe(429);
    expect((await api("GET", "/models", undefined, { headers: from("2001:db8:77:2::1") })).status).toBe(200);
  });
});
