import type { MiddlewareHandler } from "hono";
import { sessionDatabase, sessionFrom } from "../db/session";
import type { AppEnv } from "../http/router";
import { buildServices } from "../services";

const NAME = "x-d1-bookmark";

/**
 * The admin API's read replication, opt-in per request: a request with `x-d1-bookmark` runs its D1 work in one D1
 * session started from it (a bookmark from an earlier answer, or `first-unconstrained`), and the answer gives the
 * session's bookmark back in the same header. A client that sends each answer's bookmark with its next request reads
 * its own writes, from a replica when one is new enough. Without the header everything runs on the primary, as a
 * script doing a write then a read expects. A value that is neither a bookmark nor a constraint starts on the primary.
 */
export const engineForRequest: MiddlewareHandler<AppEnv> = async (c, next) => {
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  const sent = c.req.header(NAME);
  if (sent === undefined) {
    c.set("engine", buildServices(c.env, { waitUntil }));
    return next();
  }
  const session = sessionFrom(c.env.DB, sent);
  c.set("engine", buildServices(c.env, { waitUntil, d1: sessionDatabase(session) }));
  await next();
  const bookmark = session.getBookmark();
  // A failed request gives none back: with a bookmark D1 refused, the client starts again without.
  if (bookmark && c.res.status < 500) c.header(NAME, bookmark);
};

const DESCRIPTION =
  "D1 read replication (docs/scaling.md): a bookmark from an earlier answer, or `first-unconstrained`. The request " +
  "then runs in one D1 session that reads at least what that answer had written, from a replica when one is new " +
  "enough; the answer gives the session's bookmark. Without the header the request runs on the primary.";

/** The header in the OpenAPI document: a parameter of every operation, a header of every answer. */
export const BOOKMARK_HEADER = {
  parameter: { name: NAME, in: "header", required: false, description: DESCRIPTION, schema: { type: "string" } },
  header: {
    description: "The D1 bookmark after this request, when it sent `x-d1-bookmark`: send it with the next one.",
    schema: { type: "string" },
  },
} as const;

type Operation = { parameters?: unknown[]; responses?: Record<string, Record<string, unknown>> };

/** An operation of the document that takes the header and names it in every answer. */
export function withBookmarkHeader<T extends Operation>(op: T): T {
  const responses: Record<string, Record<string, unknown>> = {};
  for (const [status, response] of Object.entries(op.responses ?? {})) {
    responses[status] =
      "$ref" in response
        ? response
        : {
            ...response,
            headers: {
              ...(response.headers as object | undefined),
              [NAME]: { $ref: "#/components/headers/D1Bookmark" },
            },
          };
  }
  return {
    ...op,
    parameters: [...(op.parameters ?? []), { $ref: "#/components/parameters/D1Bookmark" }],
    responses,
  };
}
