import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { describeError } from "../errors";
import type { AppEnv } from "../http/router";
import { redirectClick } from "./click";
import { askToConfirm, confirm } from "./confirm";
import { messagesFor } from "./messages";
import { errorPage, sendPage } from "./pages";
import { servePixel } from "./pixel";
import { changePreferences, showPreferences } from "./preferences";
import { askToUnsubscribe, unsubscribe } from "./unsubscribe";

/**
 * Public routes recipients hit: short links, the open pixel, unsubscribe pages, the preference centre, the
 * double opt-in confirmation. `HEAD` is answered by the `GET`
 * handlers (Hono strips the body) and is classified as a machine, so it never fires an event.
 */
export function trackingRoutes() {
  const routes = new Hono<AppEnv>();
  routes.onError((err, c) => {
    console.error(`tracking ${c.req.method} ${c.req.path}: ${describeError(err)}`);
    return sendPage(c, errorPage(messagesFor(null)), 500);
  });

  routes.get("/l/:key", redirectClick);
  routes.get("/o/:file", servePixel);

  // An unsubscribe form or a one-click POST is a few bytes.
  routes.use("/u/*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("Payload too large", 413) }));
  routes.get("/u/:token", askToUnsubscribe);
  routes.get("/u/:token/:nextKey", askToUnsubscribe);
  routes.post("/u/:token", unsubscribe);
  routes.post("/u/:token/:nextKey", unsubscribe);
  routes.use("/p/*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("Payload too large", 413) }));
  routes.get("/p/:token", showPreferences);
  routes.post("/p/:token", changePreferences);
  routes.use("/c/*", bodyLimit({ maxSize: 16 * 1024, onError: (c) => c.text("Payload too large", 413) }));
  routes.get("/c/:token", askToConfirm);
  routes.post("/c/:token", confirm);
  return routes;
}
