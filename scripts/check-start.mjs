#!/usr/bin/env node
// `npm run check:start`: `npm start` serves while port 9229 (the devtools inspector's default) is taken.
// 1. the port choice alone: 9229 busy gives another free port; INSPECTOR_PORT chooses one; a taken or invalid
//    INSPECTOR_PORT is refused with a message naming it;
// 2. the whole start: with 9229 held by this script, `node scripts/start.mjs` on a free PORT and a fresh database
//    answers /api/openapi.json, prints one line per migration, no table, no banner and no types notice.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_INSPECTOR_PORT, freePort, isFree, pickInspectorPort } from "./inspector-port.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function hold(port) {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

// Hold 9229 (unless something else already does: the case under test either way).
const held = (await isFree(DEFAULT_INSPECTOR_PORT)) ? await hold(DEFAULT_INSPECTOR_PORT) : null;
try {
  const picked = await pickInspectorPort({});
  assert.notEqual(picked.port, DEFAULT_INSPECTOR_PORT);
  assert.match(picked.note, /9229 is in use/);
  const chosen = await freePort();
  assert.deepEqual(await pickInspectorPort({ INSPECTOR_PORT: String(chosen) }), { port: chosen, note: null });
  await assert.rejects(pickInspectorPort({ INSPECTOR_PORT: "9229" }), /INSPECTOR_PORT 9229 is in use/);
  await assert.rejects(pickInspectorPort({ INSPECTOR_PORT: "nine" }), /INSPECTOR_PORT must be a port number/);
  console.log("ok: the inspector port is picked (9229 busy, INSPECTOR_PORT honoured, refused when taken)");

  const state = mkdtempSync(join(tmpdir(), "ma-check-start-"));
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, "scripts", "start.mjs")], {
    cwd: root,
    env: { ...process.env, PORT: String(port), PERSIST_TO: state, INSPECTOR_PORT: "" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (c) => {
    output += c;
  });
  child.stderr.on("data", (c) => {
    output += c;
  });
  const stop = () => {
    if (child.exitCode === null) process.kill(-child.pid, "SIGTERM");
  };
  try {
    const started = Date.now();
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${output}`);
      if (Date.now() - started > 120_000) throw new Error(`npm start did not serve within 120 s:\n${output}`);
      if (output.includes("Marketing automation is running")) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const res = await fetch(`http://127.0.0.1:${port}/api/openapi.json`);
    assert.equal(res.status, 200);
    assert.match(output, /port 9229 is in use: the devtools inspector listens on \d+ instead/);
    assert.doesNotMatch(output, /Address already in use/);
    assert.equal(output.match(/D1 migration applied: 0000_init\.sql/g)?.length, 1, output);
    assert.doesNotMatch(output, /┌|update available|types might be out of date/, output);
    console.log(`ok: npm start serves on ${port} with 9229 taken (${output.split("\n").length} lines of output)`);
  } finally {
    stop();
    await new Promise((r) => setTimeout(r, 1000));
    rmSync(state, { recursive: true, force: true });
  }
} finally {
  held?.close();
}
