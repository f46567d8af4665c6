import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { jsonDepth, MAX_JSON_DEPTH } from "../../src/http/json-depth";
import { api, BASE, expectError, ok } from "../helpers";

const nested = (levels: number, open = "[", close = "]") => `${open.repeat(levels)}${close.repeat(levels)}`;
const objects = (levels: number) => `${'{"a":'.repeat(levels)}1${"}".repeat(levels)}`;

describe("JSON nesting is bounded at the door for every JSON body", () => {
  it("counts depth outside strings only", () => {
    expect(jsonDepth('{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]"}]}')).toBe(3);
    expect(jsonDepth(nested(10))).toBe(10);
  });

  it("update_record settings nested 10,000 levels and 100,000 nested arrays are a 400 naming the limit", async () => {
    const s = await ok("POST", "/scenarios", { name: "Deep", model: "party" });
    const body = `{"name": "U", "action": "update_record", "settings": {"fields": {"x": ${objects(10_000)}}}}`;
    expectError(await api("POST", `/scenarios/${s.id}/activities`, body), 400, `deeper than ${MAX_JSON_DEPTH} levels`);
    expectError(await api("PUT", "/records/party/deep", `{"x": ${nested(100_000)}}`), 400, `${MAX_JSON_DEPTH} levels`);
    expectError(await api("POST", "/deliveries/events", `{"events": ${nested(5_000)}}`), 400, `${MAX_JSON_DEPTH}`);
    // Within the bound, the route's own limits answer as before.
    expectError(await api("PUT", "/records/party/deep", `{"x": ${nested(40)}}`), 400, "nest deeper than 32");
  });

  it("a provider webhook body nested deep is a 400 too", async () => {
    const res = await SELF.fetch(`${BASE}/webhooks/mailchannels`, { method: "POST", body: nested(50_000) });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(`${MAX_JSON_DEPTH} levels`);
  });
});
