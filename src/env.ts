import { z } from "zod";
import { AppError } from "./errors";
import { checkEmailAddress } from "./recipients/address";

/**
 * Secrets are not in wrangler.toml, so `wrangler types` cannot see them: they are declared here.
 * Locally they come from `.dev.vars` (written by `npm start`); in production from `wrangler secret put`.
 */
export interface Secrets {
  ADMIN_TOKEN?: string;
  /** Signs tracking keys (HMAC-SHA256): at least 32 characters. Changing it makes the keys already sent 404. */
  TRACKING_SECRET?: string;
  MAILCHANNELS_API_KEY?: string;
  MAILCHANNELS_DKIM_DOMAIN?: string;
  MAILCHANNELS_DKIM_SELECTOR?: string;
  MAILCHANNELS_DKIM_PRIVATE_KEY?: string;
  /** The HMAC-SHA256 key that signs webhook payloads. */
  WEBHOOK_SECRET?: string;
  /** The keys MailChannels signs its webhooks with: `keyid:base64-SPKI`, several separated by spaces. */
  MAILCHANNELS_WEBHOOK_KEYS?: string;
}

/** Everything the Worker is given: the bindings of wrangler.toml plus the secrets. */
export type Bindings = Env & Secrets;

export interface Address {
  name: string | null;
  address: string;
}

export interface Config {
  emailFrom: Address;
  /** Base URL of tracking and unsubscribe links, without a trailing slash. */
  automationBase: string;
  mailTransport: "cloudflare" | "mailchannels" | "local";
  /** LOCAL_MODE = "1": `npm start`, the tests and the benchmarks, over plain http (cookies without `Secure`). */
  localMode: boolean;
  adminToken: string | null;
  /** The secret tracking keys are signed with (`src/signing/keys.ts`). */
  trackingSecret: string;
  mailchannels: {
    apiKey: string | null;
    dkim: { domain: string; selector: string; privateKey: string } | null;
    /** Webhook signing keys by key id (base64 of the SPKI DER of an Ed25519 public key). */
    webhookKeys: Map<string, string>;
  };
  webhook: {
    secret: string | null;
    /** Webhooks may call private, loopback and link-local addresses: local development and tests only. */
    allowPrivate: boolean;
  };
  /** Sends a second allowed through the transport, across every Scheduler shard; null for no limit. */
  sendRatePerSecond: number | null;
  /** E-mails (with their hits) older than this many days leave D1 for R2 (src/engine/retention/retention.ts); null keeps them. */
  retentionDays: number | null;
  /** Soft bounces of one address, across all e-mails, that suppress it. */
  softBounceLimit: number;
  /** Test and benchmark only: the share of local sends answered 429. */
  localQuotaRate: number;
  /** Local only (`LOCAL_OUTBOX_URL`): the listener the local transport posts each accepted message to; null for none. */
  localOutboxUrl: string | null;
}

/**
 * Parses `Name <address@example.com>` or a bare address, the address checked as a record's is (checkEmailAddress:
 * no control or invisible character, a real domain) and the name free of control and invisible characters, since
 * both reach a header (From, Reply-To). Says what is wrong otherwise.
 */
export function checkMailbox(text: string): { ok: true; mailbox: Address } | { ok: false; problem: string } {
  const trimmed = text.trim();
  const named = /^(.*?)\s*<([^<>]*)>$/.exec(trimmed);
  const name = named ? (named[1] as string).trim().replace(/^"(.*)"$/, "$1") : "";
  if (name !== "" && INVISIBLE_IN_NAME.test(name)) {
    return { ok: false, problem: "has a control or invisible character in its name" };
  }
  const checked = checkEmailAddress(named ? (named[2] as string) : trimmed);
  if (!checked.ok) return { ok: false, problem: `address ${checked.problem}` };
  return { ok: true, mailbox: { name: name || null, address: checked.address } };
}

/** Control and format characters (NUL, CR, LF, zero-width, bidi overrides) that no display name may carry. */
const INVISIBLE_IN_NAME = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** Parses `Name <address@example.com>` or a bare address; null when it is neither (checkMailbox says why). */
export function parseAddress(text: string): Address | null {
  const checked = checkMailbox(text);
  return checked.ok ? checked.mailbox : null;
}

const optional = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : null));

const schema = z.object({
  EMAIL_FROM: z.string({ error: "is required" }).superRefine((v, ctx) => {
    const checked = checkMailbox(v);
    if (!checked.ok) {
      ctx.addIssue({
        code: "custom",
        message: `must be an e-mail address, optionally with a name: Name <address@example.com> (its ${checked.problem})`,
      });
    }
  }),
  WEB_HOSTNAME: optional,
  AUTOMATION_BASE: optional,
  MAIL_TRANSPORT: z.enum(["cloudflare", "mailchannels", "local"], {
    error: 'must be one of "cloudflare", "mailchannels", "local"',
  }),
  LOCAL_MODE: optional,
  ADMIN_TOKEN: optional,
  TRACKING_SECRET: z
    .string({ error: "is required (a random string of at least 32 characters that signs tracking links)" })
    .trim()
    .min(32, { error: "must be at least 32 characters" }),
  MAILCHANNELS_API_KEY: optional,
  MAILCHANNELS_DKIM_DOMAIN: optional,
  MAILCHANNELS_DKIM_SELECTOR: optional,
  MAILCHANNELS_DKIM_PRIVATE_KEY: optional,
  WEBHOOK_SECRET: optional,
  WEBHOOK_ALLOW_PRIVATE: z.enum(["0", "1", ""], { error: 'must be "0" or "1"' }).optional(),
  MAILCHANNELS_WEBHOOK_KEYS: optional.refine((v) => v === null || v.split(/\s+/).every((k) => WEBHOOK_KEY.test(k)), {
    error: "must be key ids and base64 public keys, `keyid:MCowBQYDK2VwAyEA…`, separated by spaces",
  }),
  SEND_RATE_PER_SECOND: number("must be a number of e-mails a second above 0, or empty for no limit", (n) => n > 0),
  SOFT_BOUNCE_LIMIT: number("must be a whole number of soft bounces, at least 1", (n) => Number.isInteger(n) && n >= 1),
  LOCAL_TRANSPORT_429_RATE: number("must be a share between 0 and 1", (n) => n >= 0 && n <= 1),
  LOCAL_OUTBOX_URL: optional.refine((v) => v === null || localHttpUrl(v), {
    error: "must be an http(s) URL on this machine (127.0.0.1 or localhost), or empty",
  }),
  RETENTION_DAYS: number(
    "must be a whole number of days, at least 1, or empty to keep every e-mail in D1",
    (n) => Number.isInteger(n) && n >= 1,
  ),
});

const WEBHOOK_KEY = /^[^:\s]+:[A-Za-z0-9+/]+=*$/;

/** An http(s) URL to the loopback interface by name: 127.0.0.1 or localhost. */
function localHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "http:" || url.protocol === "https:") && /^(127\.0\.0\.1|localhost)$/i.test(url.hostname);
  } catch {
    return false;
  }
}

/** An optional numeric setting (a var may arrive as a string or a number). */
function number(error: string, valid: (n: number) => boolean) {
  return z
    .union([z.string(), z.number()])
    .optional()
    .transform((v) => (v === undefined || String(v).trim() === "" ? null : Number(v)))
    .refine((n) => n === null || (Number.isFinite(n) && valid(n)), { error });
}

const cache = new WeakMap<object, Config>();

/** Host names that only make sense on a developer's machine. */
const LOCAL_HOST = /^(localhost|127(\.\d+){3}|0\.0\.0\.0|\[::1?\])$|\.localhost$/i;
/** Domains reserved for examples and tests (RFC 2606, RFC 6761): placeholders, never a real sender or host. */
const PLACEHOLDER_DOMAIN = /(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$/i;

/**
 * What a deployed Worker needs beyond well-formed settings: a real transport, a public https base for links, a sender
 * on a real domain. Local values are accepted only with LOCAL_MODE = "1", which `npm start`, the tests and the
 * benchmarks pass and wrangler.toml does not.
 */
function checkDeployable(v: z.infer<typeof schema>, base: URL) {
  const setting = v.AUTOMATION_BASE ? "AUTOMATION_BASE" : "WEB_HOSTNAME";
  if (v.MAIL_TRANSPORT === "local") {
    throw new AppError(
      "misconfigured",
      'configuration: MAIL_TRANSPORT is "local", which keeps e-mails instead of sending them: set "cloudflare" or ' +
        '"mailchannels" for a deployed Worker (LOCAL_MODE = "1" allows "local", for npm start and the tests)',
    );
  }
  if (base.protocol !== "https:" || LOCAL_HOST.test(base.hostname) || PLACEHOLDER_DOMAIN.test(base.hostname)) {
    throw new AppError(
      "misconfigured",
      `configuration: ${setting} gives ${base.origin} as the base of tracking and unsubscribe links, which recipients ` +
        "cannot reach: set it to the Worker's public https host name (see docs/deploy.md)",
    );
  }
  const sender = (parseAddress(v.EMAIL_FROM) as Address).address;
  const domain = sender.slice(sender.lastIndexOf("@") + 1);
  if (PLACEHOLDER_DOMAIN.test(domain) || LOCAL_HOST.test(domain)) {
    throw new AppError(
      "misconfigured",
      `configuration: EMAIL_FROM is an address at ${domain}, a placeholder domain: set it to an address of your ` +
        "sending domain (see docs/deploy.md)",
    );
  }
}

/**
 * The one place configuration is read and checked. Invalid configuration throws an AppError (`misconfigured`) whose
 * message names the setting, so the first request fails loudly and clearly rather than with a stack trace.
 */
export function getConfig(env: Bindings): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError("misconfigured", `configuration: ${String(issue?.path[0])} ${issue?.message}`);
  }
  const v = parsed.data;
  const base = v.AUTOMATION_BASE ?? (v.WEB_HOSTNAME ? `https://${v.WEB_HOSTNAME}` : null);
  if (!base) {
    throw new AppError("misconfigured", "configuration: AUTOMATION_BASE or WEB_HOSTNAME must be set");
  }
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    throw new AppError("misconfigured", `configuration: AUTOMATION_BASE is not a URL: ${base}`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || (url.pathname !== "/" && url.pathname !== "")) {
    throw new AppError("misconfigured", "configuration: AUTOMATION_BASE must be an http(s) URL without a path");
  }
  if (v.LOCAL_MODE !== "1") checkDeployable(v, url);
  const dkimParts = [v.MAILCHANNELS_DKIM_DOMAIN, v.MAILCHANNELS_DKIM_SELECTOR, v.MAILCHANNELS_DKIM_PRIVATE_KEY];
  const dkimSet = dkimParts.filter((p) => p !== null).length;
  if (dkimSet !== 0 && dkimSet !== 3) {
    throw new AppError(
      "misconfigured",
      "configuration: MAILCHANNELS_DKIM_DOMAIN, MAILCHANNELS_DKIM_SELECTOR and MAILCHANNELS_DKIM_PRIVATE_KEY must be set together",
    );
  }
  if (v.LOCAL_OUTBOX_URL !== null && v.LOCAL_MODE !== "1") {
    throw new AppError(
      "misconfigured",
      'configuration: LOCAL_OUTBOX_URL is a local delivery log for npm start and the benchmarks: it needs LOCAL_MODE = "1"',
    );
  }
  if (v.MAIL_TRANSPORT === "mailchannels" && v.MAILCHANNELS_API_KEY === null) {
    throw new AppError(
      "misconfigured",
      'configuration: MAILCHANNELS_API_KEY is required when MAIL_TRANSPORT is "mailchannels"',
    );
  }
  const config: Config = {
    emailFrom: parseAddress(v.EMAIL_FROM) as Address,
    automationBase: url.origin,
    mailTransport: v.MAIL_TRANSPORT,
    localMode: v.LOCAL_MODE === "1",
    adminToken: v.ADMIN_TOKEN,
    trackingSecret: v.TRACKING_SECRET,
    mailchannels: {
      apiKey: v.MAILCHANNELS_API_KEY,
      dkim:
        dkimSet === 3
          ? {
              domain: v.MAILCHANNELS_DKIM_DOMAIN as string,
              selector: v.MAILCHANNELS_DKIM_SELECTOR as string,
              privateKey: v.MAILCHANNELS_DKIM_PRIVATE_KEY as string,
            }
          : null,
      webhookKeys: new Map(
        (v.MAILCHANNELS_WEBHOOK_KEYS ?? "")
          .split(/\s+/)
          .filter(Boolean)
          .map((k) => [k.slice(0, k.indexOf(":")), k.slice(k.indexOf(":") + 1)]),
      ),
    },
    webhook: { secret: v.WEBHOOK_SECRET, allowPrivate: v.WEBHOOK_ALLOW_PRIVATE === "1" },
    sendRatePerSecond: v.SEND_RATE_PER_SECOND,
    softBounceLimit: v.SOFT_BOUNCE_LIMIT ?? 3,
    localQuotaRate: v.LOCAL_TRANSPORT_429_RATE ?? 0,
    localOutboxUrl: v.LOCAL_OUTBOX_URL,
    retentionDays: v.RETENTION_DAYS,
  };
  cache.set(env, config);
  return config;
}
