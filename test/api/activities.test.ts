import { describe, expect, it } from "vitest";
import { api, expectError, ok } from "../helpers";

const email = { action: "send_email", email_title: "Hello {{party.name}}", email_template: "<p>Hi {{party.name}}</p>" };

async function scenario(name = "Tree") {
  return ok("POST", "/scenarios", { name, model: "party" });
}

describe("activities", () => {
  it("builds a tree and lists it depth-first with stats", async () => {
    const s = await scenario();
    const root = await api("POST", `/scenarios/${s.id}/activities`, { name: "Welcome", parent_id: null, ...email });
    expect(root.status).toBe(201);
    expect(root.body).toMatchObject({
      scenario_id: s.id,
      parent_id: null,
      name: "Welcome",
      on: null,
      delay: null,
      action: "send_email",
      record_count: 0,
      email_opened: 0,
      email_clicked: 0,
      email_open_rate: 0,
      email_click_rate: 0,
      email_click_through_rate: 0,
    });
    const opened = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "Opened",
      parent_id: root.body.id,
      on: "email_opened",
      ...email,
    });
    const notClicked = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "Not clicked",
      parent_id: root.body.id,
      on: "email_not_clicked",
      delay: "P2D",
    });
    const reminder = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "Reminder",
      parent_id: opened.id,
      condition: [["lang", "=", "en"]],
      delay: "PT30M",
    });
    const second = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Second root" });
    const tree = await ok("GET", `/scenarios/${s.id}/activities`);
    expect(tree.items.map((a: { name: string }) => a.name)).toEqual([
      "Welcome",
      "Opened",
      "Reminder",
      "Not clicked",
      "Second root",
    ]);
    expect(tree.next_cursor).toBeNull();
    expect((await ok("GET", `/activities/${reminder.id}`)).condition).toEqual([["lang", "=", "en"]]);
    expect(notClicked.delay).toBe("P2D");
    expect(second.parent_id).toBeNull();
  });

  it("enforces every rule, naming the field", async () => {
    const s = await scenario("Rules");
    const other = await scenario("Other");
    const plain = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Plain" });
    const mail = await ok("POST", `/scenarios/${s.id}/activities`, { name: "Mail", ...email });
    const foreign = await ok("POST", `/scenarios/${other.id}/activities`, { name: "Foreign", ...email });
    const post = (body: unknown) => api("POST", `/scenarios/${s.id}/activities`, body);

    expectError(await post({ name: "x", on: "email_opened" }), 400, "on:", "parent");
    expectError(await post({ name: "x", parent_id: plain.id, on: "email_opened" }), 400, "on:", '"send_email"');
    expectError(await post({ name: "x", parent_id: mail.id, on: "email_not_opened" }), 400, "delay: required");
    expectError(await post({ name: "x", parent_id: mail.id, on: "email_exploded" }), 400, "on");
    expectError(await post({ name: "x", delay: "-P1D" }), 400, "delay: must not be negative");
    expectError(await post({ name: "x", delay: "2 days" }), 400, "delay:", "ISO 8601");
    expectError(
      await post({ name: "x", action: "send_email", email_template: "<p>x</p>" }),
      400,
      "email_title: required",
    );
    expectError(await post({ name: "x", action: "send_email", email_title: "x" }), 400, "email_template: required");
    expectError(
      await post({ name: "x", ...email, email_template: "<p>{{#items}}</p>" }),
      400,
      "email_template: the template does not parse",
    );
    expectError(
      await post({ name: "x", ...email, email_title: "Hi {{name" }),
      400,
      "email_title: the template does not parse",
    );
    expectError(await post({ name: "x", ...email, email_from: "not an address" }), 400, "email_from:");
    expectError(await post({ name: "x", condition: [["a", "like", 1]] }), 400, "condition[0][2]");
    expectError(await post({ name: "x", action: "call_them" }), 400, "action");
    expectError(await post({ name: "x", parent_id: foreign.id }), 400, "parent_id:", "another scenario");
    expectError(await post({ name: "x", parent_id: "99999" }), 400, "parent_id: activity 99999 does not exist");
    expectError(await post({ name: "x", parent_id: "abc" }), 400, "parent_id:");
    expectError(await post({ parent_id: null }), 400, "name");
    expectError(await post({ name: "x", colour: "red" }), 400, "colour");
    expectError(await api("POST", "/scenarios/99999/activities", { name: "x" }), 404);
    expect((await post({ name: "ok", delay: "PT0S", email_from: "Sales <sales@example.com>" })).status).toBe(201);
  });

  it("patches with the same rules, refuses cycles, and deletes subtrees", async () => {
    const s = await scenario("Patch");
    const a = await ok("POST", `/scenarios/${s.id}/activities`, { name: "A", ...email });
    const b = await ok("POST", `/scenarios/${s.id}/activities`, {
      name: "B",
      parent_id: a.id,
      on: "email_clicked",
      ...email,
    });
    const c = await ok("POST", `/scenarios/${s.id}/activities`, { name: "C", parent_id: b.id });
    const d = await ok("POST", `/scenarios/${s.id}/activities`, { name: "D" });

    expect((await ok("PATCH", `/activities/${c.id}`, { name: "C2", delay: "P1D" })).name).toBe("C2");
    expectError(await api("PATCH", `/activities/${a.id}`, { parent_id: c.id }), 400, "no cycles");
    expectError(await api("PATCH", `/activities/${a.id}`, { parent_id: a.id }), 400, "no cycles");
    expectError(await api("PATCH", `/activities/${a.id}`, { action: null }), 400, "action:", "email_clicked");
    expectError(await api("PATCH", `/activities/${b.id}`, { email_template: null }), 400, "email_template: required");
    expectError(await api("PATCH", `/activities/${d.id}`, { on: "email_opened" }), 400, "on:");
    expectError(await api("PATCH", "/activities/99999", { name: "x" }), 404);
    expect((await ok("PATCH", `/activities/${d.id}`, { parent_id: c.id })).parent_id).toBe(c.id);

    const deleted = await ok("DELETE", `/activities/${b.id}`);
    expect(deleted.deleted.sort()).toEqual([b.id, c.id, d.id].sort());
    const tree = await ok("GET", `/scenarios/${s.id}/activities`);
    expect(tree.items.map((x: { id: string }) => x.id)).toEqual([a.id]);
    expectError(await api("GET", `/activities/${c.id}`), 404);
    expectError(await api("DELETE", `/activities/${c.id}`), 404);
  });
});
