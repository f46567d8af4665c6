import { Hono } from "hono";
import type { AppEnv } from "../api/router";

/** Public routes recipients hit: short links, the open pixel, unsubscribe pages. */
export function trackingRoutes() {
  const routes = new Hono<AppEnv>();
  return routes;
}
