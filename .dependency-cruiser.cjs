/**
 * The house's layers, lowest first: a module may import its own layer and the layers below it, never one above, and
 * no import cycle anywhere (README, "Layers"). `npm run lint` runs `depcruise src`; a broken rule names the file and
 * the arrow.
 */
const LAYERS = [
  { name: "primitives", paths: ["^src/(errors|ids|env)\\.ts$", "^src/(domain|db|recipients|signing)/"] },
  { name: "mail", paths: ["^src/mail/"] },
  { name: "email", paths: ["^src/email/"] },
  { name: "engine", paths: ["^src/engine/"] },
  { name: "actions and scheduler client", paths: ["^src/actions/", "^src/scheduler/"] },
  { name: "composition root", paths: ["^src/services\\.ts$"] },
  { name: "durable objects and queue consumers", paths: ["^src/(objects|queues)/"] },
  { name: "http", paths: ["^src/http/"] },
  { name: "routes", paths: ["^src/(api|console|tracking|webhooks)/"] },
  { name: "bench routes", paths: ["^src/bench/"] },
  { name: "entry", paths: ["^src/(app|crons|index)\\.ts$"] },
];

const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `no-upward-from-${layer.name.replace(/ /g, "-")}`,
  comment: `${layer.name} may not import a higher layer (${LAYERS.slice(i + 1)
    .map((l) => l.name)
    .join(", ")})`,
  severity: "error",
  from: { path: layer.paths },
  to: { path: LAYERS.slice(i + 1).flatMap((l) => l.paths) },
}));

/** Folders of one layer that stand side by side: none imports another. */
const siblings = (names) =>
  names.map((name) => ({
    name: `no-sideways-from-${name}`,
    comment: `src/${name} may not import its sibling folders (${names.filter((n) => n !== name).join(", ")})`,
    severity: "error",
    from: { path: `^src/${name}/` },
    to: { path: `^src/(${names.filter((n) => n !== name).join("|")})/` },
  }));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "an import cycle: one of the arrows points up",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
    ...upward,
    ...siblings(["api", "console", "tracking", "webhooks"]),
    ...siblings(["actions", "scheduler"]),
    {
      name: "engine-without-hono",
      comment: "the engine is free of HTTP",
      severity: "error",
      from: { path: "^src/(engine|email|mail|domain|db|recipients|signing)/" },
      to: { path: "node_modules/hono/" },
    },
    {
      name: "actions-only-through-their-interface",
      comment: "one action never imports another: each stands alone behind the engine's Action interface",
      severity: "error",
      from: { path: "^src/actions/(?!registry)([^/]+)\\.ts$" },
      to: { path: "^src/actions/(?!private-address)([^/]+)\\.ts$", pathNot: "^src/actions/$1\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|test|bench|scripts)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "require", "node", "default"] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
