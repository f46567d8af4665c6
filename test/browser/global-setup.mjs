// One `wrangler dev` for the whole browser run: started before the first spec, stopped after the last.
import { startServer } from "./harness.mjs";

export default async function setup(project) {
  const started = Date.now();
  const server = await startServer();
  process.stderr.write(
    `[browser] wrangler dev up on ${server.base} (pid ${server.pid}) in ${Date.now() - started} ms\n`,
  );
  project.provide("base", server.base);
  return async () => {
    await server.stop();
  };
}
