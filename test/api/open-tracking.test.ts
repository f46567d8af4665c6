import { describe, expect, it } from "vitest";
import { api, expectError, ok } from "../helpers";

/** A draft scenario over one party, and a send_email activity with `settings` (none when undefined). */
async function mailActivity(settings?: Record<string, unknown>, template = "<p>Hello {{party.name}}</p>") {
  const scenario = await ok("POST", "/scenarios", { name: "Open tracking", model: "party", domain: [] });
  const body: Record<string, unknown> = {
    name: "Mail",
    action: "send_email",
    email_title: "Hello",
    email_template: template,
  };
  if (settings !== undefined) body.settings = settings;
  const mail = await ok("POST", `/scenarios/${scenario.id}/activities`, body);
  return { scenarioId: scenario.id as string, mail };
}

const child = (scenarioId: string, parentId: string, on: string) =>
  api("POST", `/scenarios/${scenarioId}/activities`, {
    name: on,
    parent_id: parentId,
    on,
    ...(on.includes("_not_") ? { delay: "P1D" } : {}),
  });

describe("open tracking, an activity's setting", () => {
  it("is on by default, and shown as open_tracking", async () => {
    const { mail } = await mailActivity();
    expect(mail).toMatchObject({ settings: null, open_tracking: true });
  });

  it("turned off, refuses email_opened and email_not_opened children with a 400 naming the field", async () => {
    const { scenarioId, mail } = await mailActivity({ open_tracking: false });
    expect(mail).toMatchObject({ settings: { open_tracking: false }, open_tracking: false });
    for (const on of ["email_opened", "email_not_opened"]) {
      expectError(
        await child(scenarioId, mail.id, on),
        400,
        `on: "${on}" needs open tracking`,
        "settings.open_tracking",
      );
    }
    // Clicks are tracked all the same.
    expect((await child(scenarioId, mail.id, "email_clicked")).status).toBe(201);
    expect((await child(scenarioId, mail.id, "email_not_clicked")).status).toBe(201);
  });

  it("is off by default for a confirmation e-mail, which then takes no open branch unless it is turned on", async () => {
    const { scenarioId, mail } = await mailActivity(undefined, '<p><a href="confirm">Yes, subscribe me</a></p>');
    expect(mail.open_tracking).toBe(false);
    expectError(await child(scenarioId, mail.id, "email_opened"), 400, "settings.open_tracking");
    await ok("PATCH", `/activities/${mail.id}`, { settings: { open_tracking: true } });
    expect((await child(scenarioId, mail.id, "email_opened")).status).toBe(201);
  });

  it("cannot be turned off under an open branch: 400 naming settings.open_tracking and the child", async () => {
    const { scenarioId, mail } = await mailActivity();
    const opened = await ok("POST", `/scenarios/${scenarioId}/activities`, {
      name: "Opened",
      parent_id: mail.id,
      on: "email_opened",
    });
    const res = await api("PATCH", `/activities/${mail.id}`, { settings: { open_tracking: false } });
    expectError(res, 400, "settings.open_tracking", `child activity ${opened.id}`, "email_opened");
    // Nor by becoming a confirmation e-mail whose default is off.
    const confirm = await api("PATCH", `/activities/${mail.id}`, { email_template: '<a href="confirm">Yes</a>' });
    expectError(confirm, 400, "settings.open_tracking");
    expect((await ok("GET", `/activities/${mail.id}`)).open_tracking).toBe(true);
  });

  it("is send_email's only setting, a boolean", async () => {
    const { scenarioId } = await mailActivity();
    const base = { name: "M", action: "send_email", email_title: "T", email_template: "<p>x</p>" };
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, { ...base, settings: { open_tracking: "no" } }),
      400,
      "settings.open_tracking: must be true or false",
    );
    expectError(
      await api("POST", `/scenarios/${scenarioId}/activities`, { ...base, settings: { pixel: false } }),
      400,
      "settings.pixel",
    );
  });

  it("sends no pixel when off, and the pixel when on", async () => {
    await ok("PUT", "/records/party/ot-ann", { name: "Ann", email: "ann@example.com" });
    const scenario = await ok("POST", "/scenarios", {
      name: "Pixels",
      model: "party",
      domain: [["id", "=", "ot-ann"]],
    });
    const add = (name: string, settings: Record<string, unknown> | null) =>
      ok("POST", `/scenarios/${scenario.id}/activities`, {
        name,
        action: "send_email",
        email_title: name,
        email_template: '<p>Hi</p><a href="https://shop.example/">Shop</a>',
        settings,
      });
    await add("Untracked", { open_tracking: false });
    await add("Tracked", null);
    await ok("POST", `/scenarios/${scenario.id}/run`);
    await ok("POST", "/jobs/enroll");
    for (let i = 0; i < 10; i++) if (!(await ok("POST", "/jobs/process")).more) break;
    const list = await ok("GET", `/emails?scenario_id=${scenario.id}`);
    expect(list.items).toHaveLength(2);
    for (const item of list.items as { id: string; subject: string }[]) {
      const email = await ok("GET", `/emails/${item.id}`);
      expect(email.html.includes("/o/"), item.subject).toBe(item.subject === "Tracked");
      expect(email.html).toContain("/l/");
      expect(email.headers["List-Id"]).toBe(`<scenario-${scenario.id}.example.com>`);
    }
  });
});
