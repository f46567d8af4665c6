import { describe, expect, it } from "vitest";
import { isTimeZone, nextOpening, recipientTimeZone, windowProblem } from "../../src/recipients/window";

const weekdays = { start: "09:00", end: "18:00", days: ["mon", "tue", "wed", "thu", "fri"] } as const;
const at = (iso: string) => Date.parse(iso);
const next = (iso: string, tz: string, w = weekdays) =>
  new Date(nextOpening(at(iso), tz, { ...w, days: [...w.days] })).toISOString();

describe("send windows", () => {
  it("defers 23:00 on a Friday in Paris to 09:00 on Monday, across the end of summer time", () => {
    // Friday 23 October 2026, 23:00 CEST (UTC+2); summer time ends on Sunday the 25th; Monday 09:00 CET is 08:00Z.
    expect(next("2026-10-23T21:00:00Z", "Europe/Paris")).toBe("2026-10-26T08:00:00.000Z");
  });

  it("defers 23:00 on a Saturday in Paris to 09:00 on Monday, across the start of summer time", () => {
    // Saturday 28 March 2026, 23:00 CET (UTC+1); summer time starts on Sunday the 29th; Monday 09:00 CEST is 07:00Z.
    expect(next("2026-03-28T22:00:00Z", "Europe/Paris")).toBe("2026-03-30T07:00:00.000Z");
  });

  it("defers 23:00 on a weekday to 09:00 the next morning", () => {
    // Tuesday 1 December 2026, 23:00 CET → Wednesday 09:00 CET.
    expect(next("2026-12-01T22:00:00Z", "Europe/Paris")).toBe("2026-12-02T08:00:00.000Z");
  });

  it("sends at once inside the window, and waits for the opening earlier the same day", () => {
    expect(next("2026-12-01T10:15:00Z", "Europe/Paris")).toBe("2026-12-01T10:15:00.000Z");
    expect(next("2026-12-01T05:00:00Z", "Europe/Paris")).toBe("2026-12-01T08:00:00.000Z");
    // 18:00 local is closed: the window is [start, end).
    expect(next("2026-12-01T17:00:00Z", "Europe/Paris")).toBe("2026-12-02T08:00:00.000Z");
  });

  it("reads the day in the recipient's zone, not in UTC", () => {
    // Friday 23:30 UTC is already Saturday 10:30 in Auckland: deferred to Monday 09:00 NZDT (Sunday 20:00Z).
    expect(next("2026-12-04T21:30:00Z", "Pacific/Auckland")).toBe("2026-12-06T20:00:00.000Z");
    // The same instant is Friday 16:30 in New York: inside the window.
    expect(next("2026-12-04T21:30:00Z", "America/New_York")).toBe("2026-12-04T21:30:00.000Z");
  });

  it("opens after a DST gap when the window's start does not exist that day", () => {
    // Paris skips 02:00–03:00 on 29 March 2026: a window opening at 02:30 opens when the clocks jump, 03:00 CEST (01:00Z).
    const w = { start: "02:30", end: "04:00", days: ["sun"] } as const;
    expect(next("2026-03-28T23:30:00Z", "Europe/Paris", w as never)).toBe("2026-03-29T01:00:00.000Z");
  });

  it("opens at the first of two 02:30s in a DST overlap", () => {
    // Paris has 02:00–03:00 twice on 25 October 2026: the first 02:30 is CEST (00:30Z).
    const w = { start: "02:30", end: "04:00", days: ["sun"] } as const;
    expect(next("2026-10-24T20:00:00Z", "Europe/Paris", w as never)).toBe("2026-10-25T00:30:00.000Z");
  });

  it("names the field of a bad window or time zone", () => {
    expect(windowProblem({ start: "9:00", end: "18:00" })).toBe("send_window.start: must be a local time HH:MM");
    expect(windowProblem({ start: "18:00", end: "09:00" })).toContain("send_window.end: must be after start");
    expect(windowProblem({ start: "09:00", end: "18:00", days: ["monday"] })).toContain("send_window.days[0]");
    expect(windowProblem({ start: "09:00", end: "18:00", days: [] })).toContain("send_window.days");
    expect(windowProblem({ start: "09:00", end: "18:00", hours: 1 })).toContain("send_window.hours: unknown field");
    expect(windowProblem({ start: "09:00", end: "18:00" })).toBeNull();
    expect(isTimeZone("Europe/Paris")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });

  it("takes the party's zone, else the scenario's, else UTC", () => {
    expect(recipientTimeZone("America/Montreal", "Europe/Paris")).toBe("America/Montreal");
    expect(recipientTimeZone("Mars/Olympus", "Europe/Paris")).toBe("Europe/Paris");
    expect(recipientTimeZone(undefined, null)).toBe("UTC");
  });
});
