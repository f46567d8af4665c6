import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../../src/env";
import { derivedUnsubscribeSecret, storedTokenOf } from "../../src/signing/tokens";
import { request, sentEmail } from "./fixtures";

const SECRET = (env as unknown as Bindings).TRACKING_SECRET as string;
const FORM_POST = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "" };

const blocked = async (id: number) =>
  (await env.DB.prepare("SELECT blocked FROM scenario_records WHERE id = ?").bind(id).first<{ blocked: number }>())
    ?.blocked;

/** A sent e-mail whose scenario record stores no token, as records enrolled with a TRACKING_SECRET do. */
async function derivedRecord() {
  const sent = await sentEmail({ scenarioName: "Derived" });
  await env.DB.prepare("UPDATE scenario_records SET token = '' WHERE id = ?").bind(sent.scenarioRecordId).run();
  const token = `${sent.scenarioRecordId}-${await derivedUnsubscribeSecret(SECRET, sent.scenarioRecordId)}`;
  return { ...sent, token };
}

/** Flips one hex character of a token's secret half. */
const tamper = (token: string) => token.slice(0, -1) + (token.endsWith("0") ? "1" : "0");

describe("unsubscribe tokens derived from the scenario record", () => {
  it("unsubscribes with the derived token: the page, the preference centre and the POST", async () => {
    const sent = await derivedRecord();
    expect(sent.token).toMatch(/^[1-9][0-9]*-[0-9a-f]{32}$/);
    const page = await request(`/u/${sent.token}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Derived");
    expect((await request(`/p/${sent.token}`)).status).toBe(200);
    expect(await blocked(sent.scenarioRecordId)).toBe(0);
    expect((await request(`/u/${sent.token}`, FORM_POST)).status).toBe(200);
    expect(await blocked(sent.scenarioRecordId)).toBe(1);
  });

  it("refuses a tampered token, another record's, an empty-looking one and any without the server's secret", async () => {
    const sent = await derivedRecord();
    const other = await derivedRecord();
    const [, otherSecret] = other.token.split("-");
    const forged = [
      tamper(sent.token),
      `${sent.scenarioRecordId}-${otherSecret}`,
      `${sent.scenarioRecordId}-${"0".repeat(32)}`,
      `${sent.scenarioRecordId}-`,
      `${sent.scenarioRecordId}`,
    ];
    for (const token of forged) {
      expect((await request(`/u/${token}`)).status, token).toBe(404);
      expect((await request(`/u/${token}`, FORM_POST)).status, token).toBe(404);
      expect((await request(`/p/${token}`)).status, token).toBe(404);
      expect((await request(`/c/${token}`)).status, token).toBe(404);
    }
    // Without TRACKING_SECRET nothing can be checked, so an empty stored token matches nothing.
    const noSecret = { env: { TRACKING_SECRET: undefined } };
    expect((await request(`/u/${sent.token}`, { ...FORM_POST, ...noSecret })).status).toBe(404);
    expect(await blocked(sent.scenarioRecordId)).toBe(0);
  });

  it("keeps the stored token of a record enrolled before, which the derived one does not open", async () => {
    const sent = await sentEmail();
    const derived = `${sent.scenarioRecordId}-${await derivedUnsubscribeSecret(SECRET, sent.scenarioRecordId)}`;
    expect((await request(`/u/${derived}`, FORM_POST)).status).toBe(404);
    expect(await blocked(sent.scenarioRecordId)).toBe(0);
    expect((await request(`/u/${sent.token}`, FORM_POST)).status).toBe(200);
    expect(await blocked(sent.scenarioRecordId)).toBe(1);
  });

  it("binds an empty secret only after the MAC checked out", async () => {
    const id = 4242;
    const derived = await derivedUnsubscribeSecret(SECRET, id);
    expect(derived).toMatch(/^[0-9a-f]{32}$/);
    expect(await derivedUnsubscribeSecret(SECRET, id + 1)).not.toBe(derived);
    expect(await derivedUnsubscribeSecret(`${SECRET}x`, id)).not.toBe(derived);
    expect(await storedTokenOf(SECRET, { id, secret: derived })).toBe("");
    expect(await storedTokenOf(SECRET, { id: id + 1, secret: derived })).toBe(derived);
    expect(await storedTokenOf(null, { id, secret: derived })).toBe(derived);
  });
});
