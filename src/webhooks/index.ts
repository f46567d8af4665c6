import { Hono } from "hono";
import { getConfig } from "../env";
import { AppError, errorBody, invalid } from "../errors";
import { onError } from "../http/errors";
import type { AppEnv } from "../http/router";
import { acceptDeliveryEvents } from "../queues/delivery-events";
import { mailchannelsEvents } from "./mailchannels";
import { verifyMessageSignature } from "./signature";

/** MailChannels posts up to 1,000 events a request; the body may take 8 MiB, as under /api. */
const MAX_BODY = 8 * 1024 * 1024;

/**
 * Public routes providers call with delivery events. Each checks the provider's signature over the exact bytes it
 * sent before reading them; what is accepted is queued and answered 202.
 */
export function webhookRoutes() {
  const routes = new Hono<AppEnv>();
  routes.onError(onError);

  routes.post("/mailchannels", async (c) => {
    const config = getConfig(c.env);
    if (config.mailchannels.webhookKeys.size === 0) {
      throw new AppError(
        "misconfigured",
        "configuration: MAILCHANNELS_WEBHOOK_KEYS is not set: MailChannels webhooks cannot be verified (see docs/email.md)",
      );
    }
    const length = Number(c.req.header("content-length") ?? 0);
    if (length > MAX_BODY) return c.json(errorBody("payload_too_large", "request body larger than 8 MiB"), 413);
    const body = new Uint8Array(await c.req.arrayBuffer());
    if (body.length > MAX_BODY) return c.json(errorBody("payload_too_large", "request body larger than 8 MiB"), 413);
    const check = await verifyMessageSignature(c.req.raw, body, config.mailchannels.webhookKeys);
    if (!check.ok) throw new AppError("unauthorized", `MailChannels signature refused: ${check.problem}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw invalid("body: not valid JSON");
    }
    const { events, ignored } = await mailchannelsEvents(parsed);
    const result = await acceptDeliveryEvents(c.env, events, (i) => `[${i}].request_id`, c.executionCtx);
    return c.json({ accepted: result.accepted, ignored, recorded: result.counts }, 202);
  });
  return routes;
}
