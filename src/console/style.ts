/**
 * The console's only stylesheet, served from /console/style.css (the CSP allows `style-src 'self'` and nothing
 * inline). System fonts, no framework; one column on a phone, wide tables scroll inside their own box.
 */
export const STYLESHEET = `
:root {
  --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; --accent: #0a58ca; --accent-ink: #fff;
  --focus: #ffbf47; --ok: #116329; --ok-bg: #dafbe1; --warn: #7d4e00; --warn-bg: #fff8c5; --bad: #a40e26;
  --bad-bg: #ffebe9; --idle: #57606a; --idle-bg: #eaeef2;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
  color: var(--ink); background: #fff; }
a { color: var(--accent); text-underline-offset: 0.15em; }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; box-shadow: 0 0 0 5px var(--ink); }
.skip { position: absolute; left: 0.5rem; top: -3rem; background: var(--ink); color: #fff; padding: 0.5rem 1rem;
  z-index: 10; }
.skip:focus { top: 0.5rem; }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1.5rem; padding: 0.75rem 1.25rem;
  background: var(--ink); color: #fff; }
header.top a { color: #fff; }
.brand { margin: 0; font-weight: 700; }
.brand a { text-decoration: none; }
header.top nav ul { display: flex; gap: 1rem; list-style: none; margin: 0; padding: 0; }
header.top nav a[aria-current="page"] { text-decoration-thickness: 3px; }
header.top form { margin-left: auto; }
header.top button { background: transparent; color: #fff; border-color: #fff; }
main { max-width: 76rem; margin: 0 auto; padding: 1.25rem; }
main:focus { outline: none; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 1rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.75rem; padding-bottom: 0.25rem; border-bottom: 1px solid var(--line); }
.crumbs ol { display: flex; flex-wrap: wrap; list-style: none; margin: 0; padding: 0; color: var(--muted);
  font-size: 0.9rem; }
.crumbs li + li::before { content: "/"; padding: 0 0.5rem; }
.lead { color: var(--muted); margin-top: -0.5rem; }
.notice { border-left: 4px solid var(--accent); background: var(--soft); padding: 0.75rem 1rem; }
.error { border-left: 4px solid var(--bad); background: var(--bad-bg); padding: 0.75rem 1rem; }
button, .button { font: inherit; font-weight: 600; color: var(--accent-ink); background: var(--accent);
  border: 2px solid var(--accent); border-radius: 0.375rem; padding: 0.375rem 0.875rem; cursor: pointer;
  min-height: 2.5rem; }
button.secondary { background: #fff; color: var(--accent); }
button:hover { filter: brightness(0.92); }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; margin: 0; }
.actions form { margin: 0; }
label { display: block; font-weight: 600; margin-bottom: 0.25rem; }
input[type="password"], input[type="text"] { font: inherit; width: 100%; max-width: 28rem; padding: 0.5rem;
  border: 2px solid var(--muted); border-radius: 0.375rem; }
input[aria-invalid="true"] { border-color: var(--bad); }
.field { margin: 1rem 0; }
.hint { color: var(--muted); font-size: 0.9rem; margin: 0.25rem 0 0; }
.login { max-width: 32rem; margin: 3rem auto; }
.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 0.375rem; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 0.5rem 0.75rem; }
th, td { text-align: left; padding: 0.5rem 0.75rem; border-top: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
.badge { display: inline-block; font-size: 0.85rem; font-weight: 600; padding: 0.05rem 0.5rem; border-radius: 1rem;
  background: var(--idle-bg); color: var(--idle); white-space: nowrap; }
.badge.running, .badge.done, .badge.human, .badge.sent { background: var(--ok-bg); color: var(--ok); }
.badge.stopped, .badge.waiting, .badge.retry, .badge.sending { background: var(--warn-bg); color: var(--warn); }
.badge.failed, .badge.cancelled, .badge.machine, .badge.blocked { background: var(--bad-bg); color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
.stats { display: flex; flex-wrap: wrap; gap: 0.5rem 1.25rem; margin: 0.5rem 0 0; padding: 0; list-style: none; }
.stats div { display: flex; flex-direction: column; }
.stats dt { font-size: 0.8rem; color: var(--muted); }
.stats dd { margin: 0; font-weight: 700; font-variant-numeric: tabular-nums; }
.trend { display: flex; align-items: center; gap: 0.5rem; color: var(--accent); }
.trend small { color: var(--muted); }
svg.spark { display: block; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 0.875em;
  background: var(--soft); padding: 0.05rem 0.25rem; border-radius: 0.25rem; overflow-wrap: anywhere; }
pre { background: var(--soft); padding: 0.75rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; border-radius: 0.375rem; }
.summary { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); gap: 1.5rem; align-items: start; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding: 0; }
ul.tree ul { margin-left: 1.25rem; padding-left: 1rem; border-left: 2px solid var(--line); }
.node { border: 1px solid var(--line); border-radius: 0.5rem; padding: 0.75rem 1rem; margin: 0.75rem 0 0; }
.node-title { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.5rem; margin: 0 0 0.5rem; }
.node-name { font-weight: 700; font-size: 1.05rem; }
.node-body { display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 0.5rem 1.5rem; align-items: end; }
ol.timeline { list-style: none; margin: 0; padding: 0; border-left: 3px solid var(--line); }
ol.timeline > li { position: relative; margin: 0 0 1rem 1rem; padding: 0.75rem 1rem; border: 1px solid var(--line);
  border-radius: 0.5rem; }
ol.timeline > li::before { content: ""; position: absolute; left: -1.55rem; top: 1rem; width: 0.75rem;
  height: 0.75rem; border-radius: 50%; background: var(--accent); border: 2px solid #fff; }
.reason { margin: 0.5rem 0 0; }
.frame { width: 100%; height: 32rem; border: 1px solid var(--line); border-radius: 0.375rem; background: #fff; }
.pager { margin: 0.75rem 0; }
.muted { color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
@media (max-width: 48rem) {
  main { padding: 1rem 0.75rem; }
  h1 { font-size: 1.35rem; }
  .summary, .node-body { grid-template-columns: minmax(0, 1fr); }
  ul.tree ul { margin-left: 0.5rem; padding-left: 0.5rem; }
  header.top form { margin-left: 0; }
  .frame { height: 24rem; }
}
@media (prefers-reduced-motion: no-preference) { html { scroll-behavior: smooth; } }
`;
