import type { OpenAPIHono } from "@hono/zod-openapi";
import { requireAdminToken } from "../http/auth";
import { router } from "../http/router";
import { activitiesApi } from "./activities";
import { BOOKMARK_HEADER, engineForRequest, withBookmarkHeader } from "./bookmark";
import { deliveriesApi } from "./deliveries";
import { docsPage } from "./docs";
import { emailsApi } from "./emails";
import { jobsApi } from "./jobs";
import { modelsApi } from "./models";
import { recordsApi } from "./records";
import { reportsApi } from "./reports";
import { retentionApi } from "./retention";
import { runsApi } from "./runs";
import { scenariosApi } from "./scenarios";
import { suppressionsApi } from "./suppressions";
import { withThrottledAnswer } from "./throttled";
import { topicsApi } from "./topics";

const OPENAPI = {
  openapi: "3.0.3",
  info: {
    title: "Marketing automation",
    version: "0.1.0",
    description: "Admin API of the marketing automation service. See README.md and docs/ for the semantics.",
  },
  security: [{ bearer: [] }],
};

type Document = ReturnType<OpenAPIHono["getOpenAPIDocument"]>;
const METHODS = ["get", "put", "post", "delete", "patch", "head", "options", "trace"] as const;

/**
 * The document as client generators need it: full paths (the routes are mounted under /api) and an operationId on
 * every operation (`postScenariosIdRun`), derived from the method and the path, so generated method names are stable;
 * every operation takes and gives the `x-d1-bookmark` header (src/api/bookmark.ts); every operation behind the token
 * can answer 429, the sign-in throttle's (src/api/throttled.ts).
 */
function forClients(doc: Document): Document {
  const paths: NonNullable<Document["paths"]> = {};
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    const full = `/api${path}`;
    const copy = { ...item } as Record<string, unknown>;
    for (const method of METHODS) {
      const op = copy[method] as { operationId?: string } | undefined;
      if (!op) continue;
      const named = op.operationId ? op : { ...op, operationId: operationId(method, path) };
      copy[method] = withBookmarkHeader(withThrottledAnswer(named as Parameters<typeof withBookmarkHeader>[0]));
    }
    paths[full] = copy as (typeof paths)[string];
  }
  const components = doc.components ?? {};
  return {
    ...doc,
    paths,
    components: {
      ...components,
      parameters: { ...components.parameters, D1Bookmark: BOOKMARK_HEADER.parameter },
      headers: { ...components.headers, D1Bookmark: BOOKMARK_HEADER.header },
    },
  };
}

function operationId(method: string, path: string): string {
  const words = path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]?.toUpperCase() + w.slice(1));
  return method + words.join("");
}

/** The admin API under /api: the OpenAPI document and its page are public, everything else needs the token. */
export function adminApi() {
  const api = router();
  api.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  // The document is built once per isolate, on first use (building it walks every route's schemas).
  let document: ReturnType<typeof api.getOpenAPIDocument> | undefined;
  const openapi = () => {
    document ??= forClients(api.getOpenAPIDocument(OPENAPI));
    return document;
  };
  // `servers` names the origin the document was fetched from, so a generated client calls this deployment.
  api.get("/openapi.json", (c) =>
    c.json({ ...openapi(), servers: [{ url: new URL(c.req.url).origin, description: "this deployment" }] }),
  );
  api.get("/docs", (c) => {
    const doc = openapi();
    c.header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    return c.html(docsPage(doc as unknown as Parameters<typeof docsPage>[0]));
  });
  api.use("*", async (c, next) => {
    if (c.req.path === "/api/openapi.json" || c.req.path === "/api/docs") return next();
    return requireAdminToken(c, next);
  });
  api.use("*", engineForRequest);
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
    topicsApi,
    retentionApi,
  ])
    api.route("/", sub);
  return api;
}
