import { describe, expect, it } from "vitest";
import { api, ok } from "../helpers";
import { eventually, postEvents, sentEmails } from "./fixtures";

/** A second scenario over the same parties, run and processed; its record activities by party. */
async function secondScenario(name: string, partyIds: string[]) {
  const scenario = await ok("POST", "/scenarios", { name, model: "party", domain: [["id", "in", partyIds]] });
  await ok("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Mail",
    action: "send_email",
    email_title: "Again",
    email_template: "<p>Again</p>",
  });
  await ok("POST", `/scenarios/${scenario.id}/run`);
  await ok("POST", "/jobs/enroll");
  await ok("POST", "/jobs/process");
  const ras = (await ok("GET", `/scenarios/${scenario.id}/record-activities?limit=500`)).items;
  const srs = (await ok("GET", `/scenarios/${scenario.id}/records?limit=500`)).items;
  const byParty = new Map<string, { state: string; reason: string | null }>();
  for (const sr of srs)
    byParty.set(
      sr.record_id,
      ras.find((r: { scenario_record_id: string }) => r.scenario_record_id === sr.id),
    );
  const emails = (await ok("GET", `/emails?scenario_id=${scenario.id}`)).items as { to: string }[];
  return { byParty, emails };
}

describe("a suppressed address is never sent to", () => {
  it("a hard bounce in one scenario and a complaint stop the sends of another; others are still sent", async () => {
    const { emails } = await sentEmails("First", {
      hb: "hb@example.com",
      cp: "cp@example.com",
      fine: "fine@example.com",
    });
    await postEvents([
      { id: "s-hb", kind: "hard_bounce", provider_message_id: emails.hb?.provider_message_id },
      { id: "s-cp", kind: "complaint", provider_message_id: emails.cp?.provider_message_id },
      { id: "s-fine", kind: "delivered", provider_message_id: emails.fine?.provider_message_id },
    ]);
    await eventually(async () => (await api("GET", "/suppressions/cp@example.com")).status === 200);
    const second = await secondScenario("Second", ["hb", "cp", "fine"]);
    expect(second.byParty.get("hb")).toMatchObject({
      state: "cancelled",
      reason: "the address is on the suppression list: an earlier e-mail to it hard-bounced",
    });
    expect(second.byParty.get("cp")).toMatchObject({
      state: "cancelled",
      reason: "the address is on the suppression list: its recipient complained of spam",
    });
    expect(second.byParty.get("fine")).toMatchObject({ state: "done" });
    expect(second.emails.map((m) => m.to)).toEqual(['"fine" <fine@example.com>']);
  });

  it("an address suppressed by hand, in another case, is never sent to; removed, it is sent to again", async () => {
    await ok("PUT", "/records/party/hand", { name: "hand", email: "Hand@Example.com" });
    await ok("POST", "/suppressions", { address: "hand@example.com" });
    const first = await secondScenario("By hand", ["hand"]);
    expect(first.byParty.get("hand")).toMatchObject({
      state: "cancelled",
      reason: "the address is on the suppression list: it was added by hand",
    });
    expect(first.emails).toEqual([]);
    await api("DELETE", "/suppressions/hand@example.com");
    const again = await secondScenario("By hand, lifted", ["hand"]);
    expect(again.byParty.get("hand")).toMatchObject({ state: "done" });
  });
});

describe("email_bounced children", () => {
  it("wait for a bounce, run on a hard bounce or a rejection, and never on a delivery", async () => {
    const children = [
      { name: "Bounced", on: "email_bounced", delay: "PT0S" },
      { name: "Next", delay: "P1D" },
    ];
    const { scenarioId, emails } = await sentEmails(
      "Bounce branch",
      { bb1: "bb1@example.com", bb2: "bb2@example.com", bb3: "bb3@example.com" },
      children,
    );
    const activities = (await ok("GET", `/scenarios/${scenarioId}/activities`)).items ?? [];
    const flat = JSON.stringify(activities);
    expect(flat).toContain("email_bounced");
    const bouncedId = (await ok("GET", `/scenarios/${scenarioId}/record-activities?limit=500`)).items.find(
      (r: { state: string; reason: string | null }) => r.reason === "waiting for the e-mail to bounce",
    )?.activity_id;
    expect(bouncedId).toBeDefined();
    await postEvents([
      { id: "bb1-hard", kind: "hard_bounce", provider_message_id: emails.bb1?.provider_message_id },
      { id: "bb2-rejected", kind: "rejected", provider_message_id: emails.bb2?.provider_message_id },
      { id: "bb3-delivered", kind: "delivered", provider_message_id: emails.bb3?.provider_message_id },
    ]);
    const srs = (await ok("GET", `/scenarios/${scenarioId}/records?limit=500`)).items as {
      id: string;
      record_id: string;
    }[];
    const stateOf = async (party: string) => {
      const sr = srs.find((s) => s.record_id === party);
      const ras = (await ok("GET", `/scenarios/${scenarioId}/record-activities?limit=500&activity_id=${bouncedId}`))
        .items;
      return ras.find((r: { scenario_record_id: string }) => r.scenario_record_id === sr?.id);
    };
    await eventually(async () => {
      await ok("POST", "/jobs/process");
      return (await stateOf("bb1"))?.state === "done" && (await stateOf("bb2"))?.state === "done";
    });
    expect(await stateOf("bb3")).toMatchObject({
      state: "waiting",
      at: null,
      reason: "waiting for the e-mail to bounce",
    });
  });

  it("is only allowed under a send_email parent, as the other e-mail events", async () => {
    const scenario = await ok("POST", "/scenarios", { name: "Bad branch", model: "party", domain: [] });
    const root = await ok("POST", `/scenarios/${scenario.id}/activities`, { name: "Wait", delay: "P1D" });
    const res = await api("POST", `/scenarios/${scenario.id}/activities`, {
      name: "Bounced",
      parent_id: root.id,
      on: "email_bounced",
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain("on");
  });
});
