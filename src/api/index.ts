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
    // Whoever deploys the service answers for its API; the project names no URL or address of its own.
    contact: { name: "The operators of this deployment" },
  },
  security: [{ bearer: [] }],
  // Every tag an operation uses, declared once with what it groups (a test checks none is missing).
  tags: [
    { name: "Records", description: "Models and their records: what scenarios select and enroll" },
    { name: "Scenarios", description: "Scenarios: their filter, settings and lifecycle (run, stop, draft)" },
    { name: "Activities", description: "A scenario's tree of activities and the preview of an activity's e-mail" },
    { name: "Runs", description: "What ran: scenario records, record activities, confirmations, recorded events" },
    { name: "Jobs", description: "Enrollment and execution on demand (crons and alarms run them by themselves)" },
    { name: "E-mails", description: "The e-mail archive: one row per delivery attempt, its body and raw message" },
    { name: "Deliveries", description: "Delivery events from providers: bounces, complaints, unsubscribes" },
    { name: "Suppressions", description: "Addresses never sent to" },
    { name: "Reports", description: "Per-day, per-month or per-year counts of a scenario or an activity" },
    { name: "Topics", description: "Topics, and each party's opt-ins and opt-outs" },
    { name: "Settings", description: "Service-wide settings and data retention" },
  ],
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

/**
 * zod's `unknown()` (any JSON value: a domain's values, a record's fields) accepts null, so the generator writes it
 * `{"nullable": true}`, which OpenAPI 3.0 leaves undefined without a `type` (and validators refuse). Any value is `{}`:
 * such schemas lose the `nullable` that says nothing. Schemas inside `allOf` / `anyOf` / `oneOf` (a nullable `$ref` is
 * `allOf: [$ref, {nullable: true}]`) are left alone: there it does mean something.
 */
/** Values, not schemas: copied as they are. */
const VERBATIM = new Set(["example", "examples", "default", "enum"]);

export function anyValueSchemas<T>(node: T): T {
  if (Array.isArray(node)) return node.map(anyValueSchemas) as T;
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (VERBATIM.has(key)) {
      out[key] = value;
    } else if (key === "allOf" || key === "anyOf" || key === "oneOf") {
      out[key] = Array.isArray(value) ? value.map((v) => anyValueInside(v)) : value;
    } else {
      out[key] = anyValueSchemas(value);
    }
  }
  if (out.nullable === true && !("type" in out) && !("$ref" in out) && !out.allOf && !out.anyOf && !out.oneOf) {
    delete out.nullable;
  }
  return out as T;
}

/** A member of allOf / anyOf / oneOf: its own `nullable` stays, what it contains is normalised. */
function anyValueInside(member: unknown): unknown {
  if (member === null || typeof member !== "object" || Array.isArray(member)) return member;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(member)) out[key] = VERBATIM.has(key) ? value : anyValueSchemas(value);
  return out;
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
    document ??= forClients(anyValueSchemas(api.getOpenAPIDocument(OPENAPI)));
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
