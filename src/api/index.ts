import { buildServices } from "../services";
import { activitiesApi } from "./activities";
import { requireAdminToken } from "./auth";
import { deliveriesApi } from "./deliveries";
import { docsPage } from "./docs";
import { emailsApi } from "./emails";
import { jobsApi } from "./jobs";
import { modelsApi } from "./models";
import { recordsApi } from "./records";
import { reportsApi } from "./reports";
import { router } from "./router";
import { runsApi } from "./runs";
import { scenariosApi } from "./scenarios";
import { suppressionsApi } from "./suppressions";

const OPENAPI = {
  openapi: "3.0.3",
  info: {
    title: "Marketing automation",
    version: "0.1.0",
    description: "Admin API of the marketing automation service. See README.md and docs/ for the semantics.",
  },
  security: [{ bearer: [] }],
};

/** The admin API under /api: the OpenAPI document and its page are public, everything else needs the token. */
export function adminApi() {
  const api = router();
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  // The document is built once per isolate, on first use (building it walks every route's schemas).
  let document: ReturnType<typeof api.getOpenAPIDocument> | undefined;
  const openapi = () => {
    document ??= api.getOpenAPIDocument(OPENAPI);
    return document;
  };
  api.get("/openapi.json", (c) => c.json(openapi()));
  api.get("/docs", (c) => {
    const doc = openapi();
    c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    return c.html(docsPage(doc as unknown as Parameters<typeof docsPage>[0]));
  });
  api.use("*", async (c, next) => {
    if (c.req.path === "/api/openapi.json" || c.req.path === "/api/docs") return next();
    return requireAdminToken(c, next);
  });
  api.use("*", async (c, next) => {
    c.set("engine", buildServices(c.env, { waitUntil: (p) => c.executionCtx.waitUntil(p) }));
    await next();
  });
  for (const sub of [
    modelsApi,
    recordsApi,
    scenariosApi,
    activitiesApi,
    runsApi,
    jobsApi,
    emailsApi,
    deliveriesApi,
    suppressionsApi,
    reportsApi,
  ])
    api.route("/", sub);
  return api;
}
