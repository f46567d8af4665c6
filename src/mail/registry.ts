import type { Bindings, Config } from "../env";
import { AppError } from "../errors";
import { cloudflareTransport } from "./cloudflare";
import { localTransport } from "./local";
import { mailchannelsTransport } from "./mailchannels";
import type { Transport, TransportName } from "./transport";

type Factory = (env: Bindings, config: Config) => Transport;

const TRANSPORTS: Record<TransportName, Factory> = {
  local: (_env, config) => localTransport({ quotaRate: config.localQuotaRate, outboxUrl: config.localOutboxUrl }),
  cloudflare: (env) => {
    if (!env.SEND_EMAIL) {
      throw new AppError(
        "misconfigured",
        'configuration: MAIL_TRANSPORT is "cloudflare" but the SEND_EMAIL binding ([[send_email]] in wrangler.toml) is missing',
      );
    }
    return cloudflareTransport(env.SEND_EMAIL);
  },
  mailchannels: (_env, config) => {
    const apiKey = config.mailchannels.apiKey;
    if (!apiKey) {
      throw new AppError(
        "misconfigured",
        'configuration: MAILCHANNELS_API_KEY is required when MAIL_TRANSPORT is "mailchannels"',
      );
    }
    return mailchannelsTransport({ apiKey, dkim: config.mailchannels.dkim });
  },
};

/** The transport chosen by MAIL_TRANSPORT. A missing binding or secret is an AppError("misconfigured") naming it. */
export function createTransport(env: Bindings, config: Config): Transport {
  return TRANSPORTS[config.mailTransport](env, config);
}
