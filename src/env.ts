import { z } from "zod";
import { AppError } from "./errors";

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
  adminToken: string | null;
  /** The secret tracking keys are signed with (`src/tracking/keys.ts`). */
  trackingSecret: string;
  mailchannels: {
    apiKey: string | null;
    dkim: { domain: string; selector: string; privateKey: string } | null;
  };
}

const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

/** Parses `Name <address@example.com>` or a bare address; null when it is neither. */
export function parseAddress(text: string): Address | null {
  const trimmed = text.trim();
  const named = /^(.*?)\s*<([^<>]+)>$/.exec(trimmed);
  if (named) {
    const address = (named[2] as string).trim();
    const name = (named[1] as string).trim().replace(/^"(.*)"$/, "$1");
    return EMAIL.test(address) ? { name: name || null, address } : null;
  }
  return EMAIL.test(trimmed) ? { name: null, address: trimmed } : null;
}

const optional = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : null));

const schema = z.object({
  EMAIL_FROM: z.string({ error: "is required" }).refine((v) => parseAddress(v) !== null, {
    error: "must be an e-mail address, optionally with a name: Name <address@example.com>",
  }),
  WEB_HOSTNAME: optional,
  AUTOMATION_BASE: optional,
  MAIL_TRANSPORT: z.enum(["cloudflare", "mailchannels", "local"], {
    error: 'must be one of "cloudflare", "mailchannels", "local"',
  }),
  ADMIN_TOKEN: optional,
  TRACKING_SECRET: z
    .string({ error: "is required (a random string of at least 32 characters that signs tracking links)" })
    .trim()
    .min(32, { error: "must be at least 32 characters" }),
  MAILCHANNELS_API_KEY: optional,
  MAILCHANNELS_DKIM_DOMAIN: optional,
  MAILCHANNELS_DKIM_SELECTOR: optional,
  MAILCHANNELS_DKIM_PRIVATE_KEY: optional,
});

const cache = new WeakMap<object, Config>();

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
  const dkimParts = [v.MAILCHANNELS_DKIM_DOMAIN, v.MAILCHANNELS_DKIM_SELECTOR, v.MAILCHANNELS_DKIM_PRIVATE_KEY];
  const dkimSet = dkimParts.filter((p) => p !== null).length;
  if (dkimSet !== 0 && dkimSet !== 3) {
    throw new AppError(
      "misconfigured",
      "configuration: MAILCHANNELS_DKIM_DOMAIN, MAILCHANNELS_DKIM_SELECTOR and MAILCHANNELS_DKIM_PRIVATE_KEY must be set together",
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
    },
  };
  cache.set(env, config);
  return config;
}
