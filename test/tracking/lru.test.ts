import { describe, expect, it } from "vitest";
import { Lru } from "../../src/tracking/lru";

describe("Lru", () => {
  it("keeps at most its capacity, forgetting the least recently used first", () => {
    const lru = new Lru<string, number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.get("a")).toBe(1); // "b" is now the least recently used
    lru.set("c", 3);
    expect(lru.size).toBe(2);
    expect(lru.get("b")).toBeUndefined();
    expect(lru.get("a")).toBe(1);
    expect(lru.get("c")).toBe(3);
  });

  it("replaces a value without growing", () => {
    const lru = new Lru<string, number>(2);
    lru.set("a", 1);
    lru.set("a", 2);
    expect(lru.size).toBe(1);
    expect(lru.get("a")).toBe(2);
    lru.clear();
    expect(lru.size).toBe(0);
  });
});
