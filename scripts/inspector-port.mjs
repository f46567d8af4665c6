// The devtools (inspector) port of `npm start`'s wrangler dev. workerd listens on it at 127.0.0.1; when another
// process holds it (a second checkout, another `wrangler dev`, an editor's debugger) workerd exits with "Address
// already in use", so the port is chosen here, before wrangler starts:
//   INSPECTOR_PORT unset  9229 when it is free, else a free port the system gives;
//   INSPECTOR_PORT=N      that port (a taken one is refused with a message naming the setting).
import { createServer } from "node:net";

export const DEFAULT_INSPECTOR_PORT = 9229;

/** Whether nothing listens on 127.0.0.1:`port` (tried by listening on it for a moment). */
export function isFree(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port the system says is free on 127.0.0.1. */
export function freePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * The inspector port to pass to `wrangler dev --inspector-port`, and why: `{ port, note }` (note is null when the
 * default was free).
 */
export async function pickInspectorPort(env = process.env) {
  const asked = env.INSPECTOR_PORT?.trim();
  if (asked) {
    const port = Number(asked);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`INSPECTOR_PORT must be a port number (1-65535), not "${asked}"`);
    }
    if (!(await isFree(port))) throw new Error(`INSPECTOR_PORT ${port} is in use by another process: pick another`);
    return { port, note: null };
  }
  if (await isFree(DEFAULT_INSPECTOR_PORT)) return { port: DEFAULT_INSPECTOR_PORT, note: null };
  const port = await freePort();
  return { port, note: `port ${DEFAULT_INSPECTOR_PORT} is in use: the devtools inspector listens on ${port} instead` };
}
