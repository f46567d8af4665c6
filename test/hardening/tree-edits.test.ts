import { beforeAll, describe, expect, it } from "vitest";
import { buildScenario, recordActivities } from "../engine/fixtures";
import { api, expectError, ok } from "../helpers";

const mail = { action: "send_email", email_title: "Hi", email_template: "<p>Hi</p>" };

beforeAll(async () => {
  await ok("PUT", "/records/party/pam", { name: "Pam", email: "pam@example.com" });
});

async function running() {
  const built = await buildScenario({ name: `Tree ${Math.random()}`, model: "party", domain: [["id", "=", "pam"]] }, [
    { name: "Mail", ...mail },
    { name: "Other mail", ...mail, delay: "P1D" },
    { name: "Opened", parent: "Mail", on: "email_opened" },
    { name: "Later", parent: "Mail", delay: "P1D" },
  ]);
  await ok("POST", `/scenarios/${built.scenarioId}/run`);
  await ok("POST", "/jobs/enroll");
  await ok("POST", "/jobs/process");
  const ras = await recordActivities(built.scenarioId);
  const of = (name: string) => ras.find((r) => r.activity_id === built.activity[name]);
  expect(of("Mail")?.state).toBe("done");
  expect(of("Opened")).toMatchObject({ state: "waiting", at: null });
  return { ...built, of };
}

describe("tree edits while record activities wait", () => {
  it("moving an event branch whose record activities wait for the e-mail, or changing its on, is a 409 saying why", async () => {
    const s = await running();
    const opened = s.activity.Opened as string;
    const moved = await api("PATCH", `/activities/${opened}`, { parent_id: s.activity["Other mail"] });
    expectError(moved, 409, `activity ${opened} has 1 waiting record activities`, "parent_id or on");
    expectError(await api("PATCH", `/activities/${opened}`, { on: "email_clicked" }), 409, "no longer react to");
    expectError(await api("PATCH", `/activities/${opened}`, { on: null }), 409, "waiting record activities");
    // Nothing changed, and the branch still reacts to the right e-mail.
    expect(await ok("GET", `/activities/${opened}`)).toMatchObject({ parent_id: s.activity.Mail, on: "email_opened" });
    await ok("POST", `/record-activities/${s.of("Mail")?.id}/opened`);
    const after = await recordActivities(s.scenarioId, `&activity_id=${opened}`);
    expect(after[0]?.at).not.toBeNull();
    // Other changes are fine, and once nothing waits the move is too.
    expect((await api("PATCH", `/activities/${opened}`, { name: "Opened it" })).status).toBe(200);
    await ok("POST", "/jobs/process");
    expect((await recordActivities(s.scenarioId, `&activity_id=${opened}`))[0]?.state).toBe("done");
    const now = await api("PATCH", `/activities/${opened}`, { parent_id: s.activity["Other mail"] });
    expect(now.status, JSON.stringify(now.body)).toBe(200);
  });

  it("moving a timed activity carries its waiting record activities along, still due at their time", async () => {
    const s = await running();
    const later = s.activity.Later as string;
    const before = s.of("Later");
    expect(before).toMatchObject({ state: "waiting" });
    expect(before?.at).not.toBeNull();
    const moved = await api("PATCH", `/activities/${later}`, { parent_id: null });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const after = await recordActivities(s.scenarioId, `&activity_id=${later}`);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ id: before?.id, state: "waiting", at: before?.at });
  });

  it("deleting an activity takes its waiting record activities with its subtree: nothing is left waiting on it", async () => {
    const s = await running();
    const res = await api("DELETE", `/activities/${s.activity.Mail}`);
    expect(res.status).toBe(200);
    expect(res.body.deleted.sort()).toEqual([s.activity.Mail, s.activity.Opened, s.activity.Later].sort());
    const left = await recordActivities(s.scenarioId);
    expect(left.map((r) => r.activity_id)).toEqual([s.activity["Other mail"]]);
    expect((await api("POST", "/jobs/process")).status).toBe(200);
  });
});
