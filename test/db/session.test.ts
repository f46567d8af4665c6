import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "../../src/db/client";
import { isBookmark, sessionDatabase, sessionFrom } from "../../src/db/session";
import type { Bindings } from "../../src/env";
import { buildMailer } from "../../src/services";
import { job } from "../email/fixtures";
import { recordingD1 } from "./recording-d1";

describe("D1 sessions in the local runtime", () => {
  it("give a bookmark after a query, and a session from it reads what the first one wrote", async () => {
    const first = env.DB.withSession("first-primary");
    expect(first.getBookmark()).toBeNull();
    await first.prepare("CREATE TABLE IF NOT EXISTS session_probe (n INTEGER)").run();
    await first.prepare("INSERT INTO session_probe (n) VALUES (7)").run();
    const bookmark = first.getBookmark();
    expect(isBookmark(bookmark)).toBe(true);
    const next = env.DB.withSession(bookmark as string);
    expect(await next.prepare("SELECT n FROM session_probe").first("n")).toBe(7);
    expect((next.getBookmark() as string) >= (bookmark as string)).toBe(true);
  });
});

describe("sessionFrom", () => {
  it("starts from the bookmark sent back, from a constraint named, or anywhere when there is none", () => {
    const { db, seen } = recordingD1(env.DB);
    const bookmark = "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683";
    sessionFrom(db, bookmark);
    sessionFrom(db, undefined);
    sessionFrom(db, "");
    sessionFrom(db, "first-primary");
    sessionFrom(db, "first-unconstrained");
    expect(seen.starts).toEqual([
      bookmark,
      "first-unconstrained",
      "first-unconstrained",
      "first-primary",
      "first-unconstrained",
    ]);
  });

  it("starts from the primary when the value is not a bookmark", () => {
    const { db, seen } = recordingD1(env.DB);
    for (const value of ["garbage", "FIRST-UNCONSTRAINED", "x".repeat(5000), "00000085-0000024c-00004c6d"]) {
      sessionFrom(db, value);
    }
    expect(seen.starts).toEqual(["first-primary", "first-primary", "first-primary", "first-primary"]);
  });

  it("starts from the primary when D1 throws on the bookmark", () => {
    const starts: string[] = [];
    const db = {
      withSession(start: string) {
        starts.push(start);
        if (start !== "first-primary") throw new Error("D1_ERROR: invalid bookmark");
        return env.DB.withSession(start);
      },
    } as unknown as D1Database;
    const session = sessionFrom(db, "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683");
    expect(starts).toEqual(["00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683", "first-primary"]);
    expect(typeof session.getBookmark).toBe("function");
  });
});

describe("sessionDatabase", () => {
  it("runs prepared statements, batches and drizzle through the session", async () => {
    const { db, seen } = recordingD1(env.DB);
    const session = db.withSession("first-unconstrained");
    const d1 = sessionDatabase(session);
    expect(await d1.prepare("SELECT 1 AS one").first("one")).toBe(1);
    const [a, b] = await d1.batch<{ n: number }>([d1.prepare("SELECT 2 AS n"), d1.prepare("SELECT 3 AS n")]);
    expect([a?.results[0]?.n, b?.results[0]?.n]).toEqual([2, 3]);
    const rows = await getDb(d1).all<{ four: number }>(sql`SELECT 4 AS four`);
    expect(rows).toEqual([{ four: 4 }]);
    expect(seen.onSession).toHaveLength(4);
    expect(seen.onBinding).toEqual([]);
    expect(isBookmark(session.getBookmark())).toBe(true);
  });

  it("refuses what a session cannot do", async () => {
    const d1 = sessionDatabase(env.DB.withSession("first-unconstrained"));
    await expect(d1.exec("SELECT 1")).rejects.toThrow(/not available inside a D1 session/);
    await expect(d1.dump()).rejects.toThrow(/not available inside a D1 session/);
    expect(() => d1.withSession("first-primary")).toThrow(/not available inside a D1 session/);
  });
});

describe("an engine built over a session", () => {
  it("archives what its mailer sends in the same session", async () => {
    const { db, seen } = recordingD1(env.DB);
    const mailer = buildMailer(env as unknown as Bindings, sessionDatabase(db.withSession("first-primary")));
    const [outcome] = await mailer.sendBatch([job()], Date.now());
    expect(outcome).toMatchObject({ emailId: expect.any(Number) });
    expect(seen.onSession.some((s) => /INSERT INTO emails/i.test(s))).toBe(true);
    expect(seen.onBinding).toEqual([]);
  });
});
