import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { adminApi } from "./api";
import { benchRoutes } from "./bench/routes";
import { consoleRoutes } from "./console";
import { errorBody } from "./errors";
import { onError } from "./http/errors";
import { jsonDepthLimit } from "./http/json-depth";
import type { AppEnv } from "./http/router";
import { trackingRoutes } from "./tracking";
import { webhookRoutes } from "./webhooks";

/** The Worker's HTTP surface: the admin API under /api, the providers' webhooks and the public tracking routes. */
export function buildApp() {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  const limit = bodyLimit({
    maxSize: 8 * 1024 * 1024,
    onError: (c) => c.json(errorBody("payload_too_large", "request body larger than 8 MiB"), 413),
  });
  app.use("/api/*", limit);
  app.use("/webhooks/*", limit);
  // After the size limit, before any route parses: JSON bodies nest at most MAX_JSON_DEPTH levels.
  app.use("/api/*", jsonDepthLimit());
  app.use("/webhooks/*", jsonDepthLimit({ always: true }));
  app.route("/api", adminApi());
  app.route("/__bench", benchRoutes());
  app.route("/console", consoleRoutes());
  app.route("/webhooks", webhookRoutes());
  app.route("/", trackingRoutes());
  app.notFound((c) =>
    c.req.path.startsWith("/api/")
      ? c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404)
      : c.text("Not found", 404),
  );
  return app;
}
