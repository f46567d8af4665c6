import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { Engine } from "../engine/ports";
import type { Bindings } from "../env";
import { formatZodError, invalid, notFound } from "../errors";
import { parseId } from "../ids";

export type AppEnv = { Bindings: Bindings; Variables: { engine: Engine } };

/** A router whose request validation failures become the service's 400 error body, naming the field. */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw invalid(formatZodError(result.error));
    },
  });
}

/** The numeric id behind a public id, or a 404 naming what was looked for. */
export function idOr404(text: string, what: string): number {
  const id = parseId(text);
  if (id === null) throw notFound(what, JSON.stringify(text));
  return id;
}

/** A cursor given back by a list, or a 400. */
export function numericCursor(cursor: string | undefined): number | null {
  if (cursor === undefined) return null;
  const id = parseId(cursor);
  if (id === null) throw invalid("cursor: not a cursor returned by this list");
  return id;
}

export const engineOf = (c: Context<AppEnv>) => c.get("engine");
