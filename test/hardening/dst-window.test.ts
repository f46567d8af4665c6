import { describe, expect, it } from "vitest";
import { nextOpening } from "../../src/recipients/window";

describe("a send window that opens inside a DST spring-forward gap", () => {
  it("02:30–03:15 Europe/Paris on 2027-03-28 still sends 03:00–03:15", () => {
    const w = { start: "02:30", end: "03:15" };
    // Midnight in Paris (CET, UTC+1): the window opens when the clocks jump from 02:00 to 03:00 CEST (01:00 UTC).
    const due = Date.parse("2027-03-27T23:00:00Z");
    expect(new Date(nextOpening(due, "Europe/Paris", w)).toISOString()).toBe("2027-03-28T01:00:00.000Z");
    // Due inside what is left of the window: sent at once.
    const inside = Date.parse("2027-03-28T01:10:00Z");
    expect(nextOpening(inside, "Europe/Paris", w)).toBe(inside);
    // A window wholly inside the gap (02:10–02:50) opens at the jump too, rather than a week later.
    const gap = { start: "02:10", end: "02:50", days: ["sun" as const] };
    expect(new Date(nextOpening(due, "Europe/Paris", gap)).toISOString()).toBe("2027-03-28T01:00:00.000Z");
  });

  it("the day after, and autumn's repeated hour, are unchanged", () => {
    const w = { start: "02:30", end: "03:15" };
    expect(new Date(nextOpening(Date.parse("2027-03-28T02:00:00Z"), "Europe/Paris", w)).toISOString()).toBe(
      "2027-03-29T00:30:00.000Z",
    );
    // 2027-10-31: 02:30 happens twice; the first (CEST, 00:30 UTC).
    expect(new Date(nextOpening(Date.parse("2027-10-30T22:00:00Z"), "Europe/Paris", w)).toISOString()).toBe(
      "2027-10-31T00:30:00.000Z",
    );
  });
});
