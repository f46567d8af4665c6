import { describe, expect, it } from "vitest";
import { eventually, postEvents, sentEmails } from "../deliveries/fixtures";
import { api, expectError, ok } from "../helpers";

describe("the deliveries API: exact ids, and every event reachable page by page", () => {
  it("a 16-digit e-mail id past 2^53 is refused as it was sent, never rounded", async () => {
    const res = await postEvents([{ id: "big-1", kind: "hard_bounce", email_id: "9007199254740993" }]);
    expectError(res, 400, "events[0].email_id", "must be an e-mail id");
    expect(JSON.stringify(res.body)).not.toContain("9007199254740992");
    // Within 2^53, an unknown id is named exactly.
    expectError(
      await postEvents([{ id: "big-2", kind: "hard_bounce", email_id: "9007199254740991" }]),
      404,
      "9007199254740991",
    );
    expectError(await api("GET", "/deliveries/events?email_id=9007199254740993"), 400, "email_id");
  });

  it("GET /api/deliveries/events pages past 1,000 events with next_cursor", async () => {
    const { emails } = await sentEmails("Paged events", { pe: "paged-events@example.com" });
    const id = emails.pe?.id as string;
    const events = Array.from({ length: 1_200 }, (_, i) => ({
      id: `pg-${i}`,
      kind: "delivered",
      email_id: id,
      at: new Date(1_700_000_000_000 + (i % 7) * 1000).toISOString(),
    }));
    expect((await postEvents(events)).status).toBe(202);
    const seen = new Set<string>();
    await eventually(async () => {
      seen.clear();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await ok("GET", `/deliveries/events?email_id=${id}&limit=500${cursor ? `&cursor=${cursor}` : ""}`);
        for (const ev of page.items) seen.add(ev.event_id);
        cursor = page.next_cursor;
        pages++;
      } while (cursor);
      return seen.size === 1_200 && pages === 3;
    }, 30_000);
    expect(seen.size).toBe(1_200);
    expectError(await api("GET", `/deliveries/events?email_id=${id}&cursor=nope`), 400, "cursor");
  });
});
