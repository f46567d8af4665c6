import { describe, expect, it } from "vitest";
import { api, expectError, ok } from "../helpers";

async function seedParties() {
  await ok("POST", "/records/party/batch", {
    records: [
      { id: "michael", name: "Michael Scott", email: "michael@example.com", lang: "en" },
      { id: "dwight", name: "Dwight Schrute", email: "dwight@example.com", lang: "en" },
      { id: "jan", name: "Jan Levinson", lang: "fr" },
    ],
  });
}

describe("scenarios", () => {
  it("creates a draft whose record_count previews the domain", async () => {
    await seedParties();
    const res = await api("POST", "/scenarios", { name: "Welcome", model: "party", domain: [["email", "!=", null]] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: "Welcome",
      model: "party",
      state: "draft",
      unsubscribable: false,
      record_count: 2,
      record_count_blocked: 0,
      block_rate: 0,
    });
    expect(res.body.id).toMatch(/^\d+$/);
    expect(new Date(res.body.created_at).toISOString()).toBe(res.body.created_at);
    const patched = await ok("PATCH", `/scenarios/${res.body.id}`, { domain: [] });
    expect(patched.record_count).toBe(3);
    expect((await ok("GET", `/scenarios/${res.body.id}`)).record_count).toBe(3);
  });

  it("rejects bad scenarios naming the field", async () => {
    expectError(await api("POST", "/scenarios", { model: "party" }), 400, "name");
    expectError(await api("POST", "/scenarios", { name: "x", model: "nope" }), 400, 'model: unknown model "nope"');
    expectError(
      await api("POST", "/scenarios", { name: "x", model: "party", domain: [["a", "==", 1]] }),
      400,
      'domain[0][1]: unknown operator "=="',
    );
    expectError(await api("POST", "/scenarios", { name: "x", model: "party", domain: "[]" }), 400, "domain");
    expectError(
      await api("POST", "/scenarios", { name: "x", model: "party", unsubscribable: "yes" }),
      400,
      "unsubscribable",
    );
    expectError(await api("POST", "/scenarios", { name: " ", model: "party" }), 400, "name:");
    const s = await ok("POST", "/scenarios", { name: "ok", model: "party" });
    expectError(await api("PATCH", `/scenarios/${s.id}`, { domain: [["x", "in", 3]] }), 400, "domain[0][2]");
    expectError(await api("PATCH", `/scenarios/${s.id}`, { state: "running" }), 400, "state");
    expectError(await api("GET", "/scenarios/999999"), 404, "scenario 999999 not found");
    expectError(await api("GET", "/scenarios/abc"), 404);
    expectError(await api("PATCH", "/scenarios/999999", { name: "x" }), 404);
  });

  it("moves through draft -> running -> stopped -> running | draft, and 409s otherwise", async () => {
    const s = await ok("POST", "/scenarios", { name: "Lifecycle", model: "party" });
    expectError(await api("POST", `/scenarios/${s.id}/stop`), 409, "is draft");
    expectError(await api("POST", `/scenarios/${s.id}/draft`), 409, "already draft");
    expect((await ok("POST", `/scenarios/${s.id}/run`)).state).toBe("running");
    expectError(await api("POST", `/scenarios/${s.id}/run`), 409, "already running");
    expectError(await api("POST", `/scenarios/${s.id}/draft`), 409, "is running");
    expectError(await api("DELETE", `/scenarios/${s.id}`), 409, "stop it before deleting");
    expectError(await api("PATCH", `/scenarios/${s.id}`, { model: "sale" }), 409, "model can only change in draft");
    expect((await ok("POST", `/scenarios/${s.id}/stop`)).state).toBe("stopped");
    expect((await ok("POST", `/scenarios/${s.id}/run`)).state).toBe("running");
    expect((await ok("POST", `/scenarios/${s.id}/stop`)).state).toBe("stopped");
    expect((await ok("POST", `/scenarios/${s.id}/draft`)).state).toBe("draft");
    expect((await api("DELETE", `/scenarios/${s.id}`)).status).toBe(204);
    expectError(await api("GET", `/scenarios/${s.id}`), 404);
    expectError(await api("POST", "/scenarios/424242/run"), 404);
  });

  it("lists scenarios with a cursor and a state filter", async () => {
    for (let i = 0; i < 5; i++) await ok("POST", "/scenarios", { name: `List ${i}`, model: "sale" });
    const first = await ok("GET", "/scenarios?limit=2");
    expect(first.items).toHaveLength(2);
    expect(first.next_cursor).toBe(first.items[1].id);
    const second = await ok("GET", `/scenarios?limit=2&cursor=${first.next_cursor}`);
    expect(Number(second.items[0].id)).toBeGreaterThan(Number(first.items[1].id));
    const drafts = await ok("GET", "/scenarios?state=draft&limit=500");
    expect(drafts.items.every((s: { state: string }) => s.state === "draft")).toBe(true);
    expectError(await api("GET", "/scenarios?state=paused"), 400, "state");
    expectError(await api("GET", "/scenarios?cursor=zzz"), 400, "cursor");
  });
});
