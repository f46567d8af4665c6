import type { MiddlewareHandler } from "hono";
import { invalid } from "../errors";

/**
 * Objects and arrays a JSON body may nest, counted before anything parses or validates it: recursive validators (zod's
 * `z.json()`) and walkers would overflow the stack on a body nested thousands deep. Every limit inside a body (a
 * record's fields, 32; a domain, 16) is far below it.
 */
export const MAX_JSON_DEPTH = 64;

/** The deepest nesting of objects and arrays in JSON text, stopping as soon as it passes `limit`. */
export function jsonDepth(text: string, limit = MAX_JSON_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92)
        i++; // a backslash escapes the next character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 125 || c === 93) depth--;
  }
  return deepest;
}

/**
 * Refuses a JSON body nested deeper than MAX_JSON_DEPTH with a 400 naming the limit. `always`: the route reads its
 * body as JSON whatever its content type (a provider's webhook); else only bodies sent as JSON are looked at.
 */
export function jsonDepthLimit(options: { always?: boolean } = {}): MiddlewareHandler {
  return async (c, next) => {
    const type = c.req.header("content-type") ?? "";
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && (options.always || /json/i.test(type))) {
      const text = await c.req.text(); // kept by the request: the route reads it again
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        throw invalid(`body: JSON nests deeper than ${MAX_JSON_DEPTH} levels of objects and arrays`);
      }
    }
    await next();
  };
}
