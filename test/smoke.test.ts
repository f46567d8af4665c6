import { describe, expect, it } from "vitest";
import { api } from "./helpers";

describe("smoke", () => {
  it("lists the built-in models", async () => {
    const res = await api("GET", "/models");
    expect(res.status).toBe(200);
    expect(res.body.items.map((m: { name: string }) => m.name)).toEqual(["party", "sale"]);
  });
});
