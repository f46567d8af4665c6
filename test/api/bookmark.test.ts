import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { isBookmark } from "../../src/db/session";
import worker from "../../src/index";
import { recordingD1 } from "../db/recording-d1";
import { api, BASE, TOKEN } from "../helpers";

/** An admin API call through the Worker with the given D1 binding; the answer's status, body and bookmark header. */
async function call(db: D1Database, method: string, path: string, init: { bookmark?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (init.bookmark !== undefined) headers["x-d1-bookmark"] = init.bookmark;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/api${path}`, {
      method,
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    }),
    { ...env, DB: db } as never,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return {
    status: res.status,
    body: (await res.json()) as Record<string, unknown>,
    bookmark: res.headers.get("x-d1-bookmark"),
  };
}

describe("the admin API's x-d1-bookmark header", () => {
  it("runs a request in a D1 session from the header and answers with the session's bookmark", async () => {
    const written = recordingD1(env.DB);
    const put = await call(written.db, "PUT", "/records/party/bookmarked", {
      bookmark: "first-unconstrained",
      body: { name: "Kelly Kapoor", email: "kelly@example.com" },
    });
    expect(put.status).toBe(201);
    expect(written.seen.starts).toEqual(["first-unconstrained"]);
    expect(written.seen.onSession.length).toBeGreaterThan(0);
    expect(written.seen.onBinding).toEqual([]);
    expect(isBookmark(put.bookmark)).toBe(true);

    const read = recordingD1(env.DB);
    const get = await call(read.db, "GET", "/records/party/bookmarked", { bookmark: put.bookmark as string });
    expect(get.status).toBe(200);
    expect(get.body).toMatchObject({ id: "bookmarked", fields: { name: "Kelly Kapoor" } });
    expect(read.seen.starts).toEqual([put.bookmark]);
    expect(isBookmark(get.bookmark)).toBe(true);
  });

  it("without the header runs on the primary and gives no bookmark; with it, in a session", async () => {
    const { db, seen } = recordingD1(env.DB);
    const res = await call(db, "GET", "/scenarios");
    expect(res.status).toBe(200);
    expect(res.bookmark).toBeNull();
    expect(seen.starts).toEqual([]);
    expect(seen.onBinding.length).toBeGreaterThan(0);
    const inSession = await call(db, "GET", "/scenarios", { bookmark: "first-unconstrained" });
    expect(seen.starts).toEqual(["first-unconstrained"]);
    expect(isBookmark(inSession.bookmark)).toBe(true);
  });

  it("a header that is not a bookmark starts on the primary and answers normally", async () => {
    const { db, seen } = recordingD1(env.DB);
    const res = await call(db, "GET", "/scenarios", { bookmark: "not-a-bookmark" });
    expect(res.status).toBe(200);
    expect(seen.starts).toEqual(["first-primary"]);
    expect(isBookmark(res.bookmark)).toBe(true);
  });

  it("opens no session and gives no bookmark to a caller without the token", async () => {
    const { db, seen } = recordingD1(env.DB);
    const headers = { "x-d1-bookmark": "first-unconstrained" };
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`${BASE}/api/scenarios`, { headers }), { ...env, DB: db } as never, ctx);
    expect(res.status).toBe(401);
    expect(res.headers.get("x-d1-bookmark")).toBeNull();
    expect(seen.starts).toEqual([]);
    // With the token, the same header opens a session.
    await call(db, "GET", "/scenarios", { bookmark: "first-unconstrained" });
    expect(seen.starts).toEqual(["first-unconstrained"]);
  });

  it("is in the OpenAPI document: a parameter of every operation, a header of every answer", async () => {
    const doc = (await api("GET", "/openapi.json", undefined, { token: null })).body;
    expect(doc.components.parameters.D1Bookmark).toMatchObject({ name: "x-d1-bookmark", in: "header" });
    expect(doc.components.headers.D1Bookmark.schema).toEqual({ type: "string" });
    let operations = 0;
    for (const item of Object.values(doc.paths) as Record<string, any>[]) {
      for (const op of Object.values(item)) {
        operations++;
        expect(op.parameters, op.operationId).toContainEqual({ $ref: "#/components/parameters/D1Bookmark" });
        for (const response of Object.values(op.responses) as any[]) {
          expect(response.headers?.["x-d1-bookmark"], op.operationId).toEqual({
            $ref: "#/components/headers/D1Bookmark",
          });
        }
      }
    }
    expect(operations).toBeGreaterThan(20);
    const lint = (env as unknown as { OPENAPI_LINT: Fetcher }).OPENAPI_LINT;
    const res = await lint.fetch("http://lint/", { method: "POST", body: JSON.stringify(doc) });
    expect(await res.json()).toEqual({ valid: true, title: "Marketing automation" });
    // The API page says it once, and lists no nameless parameter.
    const page = await (
      await worker.fetch(new Request(`${BASE}/api/docs`), env as never, createExecutionContext())
    ).text();
    expect(page).toContain("<code>x-d1-bookmark</code>");
    expect(page).not.toContain("(undefined");
  });
});
