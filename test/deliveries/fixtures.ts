import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { buildApp } from "../../src/app";
import type { Bindings } from "../../src/env";
import { base64 } from "../../src/webhooks/signature";
import { api, BASE, ok } from "../helpers";

/** A MailChannels-like signer: a fresh Ed25519 key pair, its public key as `MAILCHANNELS_WEBHOOK_KEYS` expects it. */
export async function webhookSigner(keyId = "mckey") {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const publicKey = base64(spki);
  /** Headers of a signed request over `body`, as MailChannels sends them. */
  const sign = async (body: string, o: { created?: number; key?: CryptoKey; digestOf?: string } = {}) => {
    const digestBytes = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(o.digestOf ?? body)),
    );
    const digest = `sha-256=:${base64(digestBytes)}:`;
    const created = o.created ?? Math.floor(Date.now() / 1000);
    const params = `("content-digest");created=${created};alg="ed25519";keyid="${keyId}"`;
    const base = `"content-digest": ${digest}\n"@signature-params": ${params}`;
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: "Ed25519" }, o.key ?? pair.privateKey, new TextEncoder().encode(base)),
    );
    return {
      "content-type": "application/json",
      "content-digest": digest,
      "signature-input": `sig_1=${params}`,
      signature: `sig_1=:${base64(signature)}:`,
    };
  };
  return { keyId, publicKey, sign, keys: `${keyId}:${publicKey}` };
}

/** Calls the Worker as deployed with these extra vars (the signing keys), through its real fetch handler. */
export async function fetchWith(vars: Partial<Bindings>, path: string, init: RequestInit) {
  const ctx = createExecutionContext();
  const res = await buildApp().fetch(new Request(`${BASE}${path}`, init), { ...(env as Bindings), ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** Waits until `check` holds (the queue consumer runs on its own), or fails after a few seconds. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error("timed out waiting for the queue consumer");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The delivery events of an e-mail as the API lists them. */
export async function eventsOf(emailId: string) {
  return (await ok("GET", `/deliveries/events?email_id=${emailId}&limit=500`)).items as {
    kind: string;
    event_id: string;
    detail: string | null;
  }[];
}

/** A scenario sending one e-mail to each party named, run and processed; returns the e-mails by party id. */
export async function sentEmails(
  name: string,
  parties: Record<string, string>,
  children: Record<string, unknown>[] = [],
): Promise<{
  scenarioId: string;
  mailId: string;
  emails: Record<string, { id: string; provider_message_id: string }>;
}> {
  for (const [id, email] of Object.entries(parties)) await ok("PUT", `/records/party/${id}`, { name: id, email });
  const scenario = await ok("POST", "/scenarios", {
    name,
    model: "party",
    domain: [["id", "in", Object.keys(parties)]],
  });
  const mail = await ok("POST", `/scenarios/${scenario.id}/activities`, {
    name: "Mail",
    action: "send_email",
    email_title: "Hello",
    email_template: "<p>Hello</p>",
  });
  for (const child of children)
    await ok("POST", `/scenarios/${scenario.id}/activities`, { parent_id: mail.id, ...child });
  await ok("POST", `/scenarios/${scenario.id}/run`);
  await ok("POST", "/jobs/enroll");
  await ok("POST", "/jobs/process");
  const list = await ok("GET", `/emails?scenario_id=${scenario.id}`);
  const emails: Record<string, { id: string; provider_message_id: string }> = {};
  for (const [id, email] of Object.entries(parties)) {
    const m = list.items.find((e: { to: string }) => e.to.includes(email));
    expect(m, `an e-mail to ${email}`).toBeDefined();
    emails[id] = m;
  }
  return { scenarioId: scenario.id, mailId: mail.id, emails };
}

export const postEvents = (events: unknown[]) => api("POST", "/deliveries/events", { events });
