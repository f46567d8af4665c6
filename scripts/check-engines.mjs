#!/usr/bin/env node
import { readFileSync } from "node:fs";
// `npm run check:engines`: the Node versions package.json's `engines` declares are allowed by every package of
// package-lock.json, so `npm ci` on any of them prints no EBADENGINE (and the running Node is one of them).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const semver = require("semver");
const lock = JSON.parse(readFileSync(new URL("../package-lock.json", import.meta.url), "utf8"));
const declared = lock.packages[""].engines.node;
const refused = Object.entries(lock.packages)
  .filter(([path, p]) => path !== "" && p.engines?.node && !semver.subset(declared, p.engines.node))
  .map(([path, p]) => `${path.replace(/^.*node_modules\//, "")} needs ${p.engines.node}`);
if (!semver.satisfies(process.version, declared)) refused.push(`this Node (${process.version}) is not ${declared}`);
if (refused.length > 0) {
  console.error(`package.json declares node ${declared}, but:\n  ${refused.join("\n  ")}`);
  process.exit(1);
}
console.log(`ok: every dependency allows node ${declared}`);
