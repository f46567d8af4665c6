import { describe, expect, it } from "vitest";

/**
 * One home for record-activity state changes: outside src/engine/record-activities/, only the files allowed below
 * write `record_activities` rows (enrollment's roots, retention's deletions, a deleted subtree, the e-mail archive on
 * the row, the bench). The sources are read as text when the tests are built (vite resolves the glob).
 */
const sources = import.meta.glob<string>("../../../src/**/*.ts", { query: "?raw", import: "default", eager: true });
const files = Object.entries(sources).map(([path, text]) => ({ path: path.replace(/^(\.\.\/)+/, ""), text }));

const HOME = /^src\/engine\/record-activities\//;
const ALLOWED = [
  /^src\/engine\/enrollment\/enroll\.ts$/,
  /^src\/engine\/retention\/retention\.ts$/,
  /^src\/engine\/scenarios\/activities\.ts$/,
  /^src\/email\/staged\.ts$/,
  /^src\/email\/archive\.ts$/,
  /^src\/bench\//,
];

/** SQL that writes `record_activities`, or drizzle's query builder doing the same. */
const WRITES = [
  /\bUPDATE\s+(OR\s+\w+\s+)?record_activities\b/gi,
  /\bINSERT\s+(OR\s+\w+\s+)?INTO\s+record_activities\b/gi,
  /\bREPLACE\s+INTO\s+record_activities\b/gi,
  /\bDELETE\s+FROM\s+record_activities\b/gi,
  /\.(update|insert|delete)\(\s*recordActivities\s*\)/g,
];

const writersIn = (text: string) => WRITES.flatMap((re) => [...text.matchAll(re)].map((m) => m[0]));

describe("one home for record-activity state changes", () => {
  it("reads the sources", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.path === "src/objects/scheduler.ts")).toBe(true);
    // The check finds the writers that are where they belong.
    const home = files.filter((f) => HOME.test(f.path));
    expect(home.flatMap((f) => writersIn(f.text)).length).toBeGreaterThan(10);
    expect(writersIn("db.prepare(`INSERT OR IGNORE INTO record_activities (id) VALUES (1)`)")).toHaveLength(1);
    expect(writersIn("`update record_activities\n  SET parked = 1`")).toHaveLength(1);
  });

  it("no file outside src/engine/record-activities/ writes record activities, but those allowed", () => {
    const elsewhere = files
      .filter((f) => !HOME.test(f.path) && !ALLOWED.some((re) => re.test(f.path)))
      .flatMap((f) => writersIn(f.text).map((w) => `${f.path}: ${w.replace(/\s+/g, " ")}`));
    expect(elsewhere).toEqual([]);
  });

  it("the Scheduler object runs no SQL over D1's tables", () => {
    const scheduler = files.find((f) => f.path === "src/objects/scheduler.ts")?.text ?? "";
    expect(scheduler).not.toMatch(/\.prepare\(/);
    expect(scheduler).not.toMatch(/record_activities/);
  });

  it("what is due is spelled once", () => {
    const spelled = files.filter((f) => /parked = 0 AND state = 'waiting'/.test(f.text)).map((f) => f.path);
    expect(spelled).toEqual(["src/engine/record-activities/due.ts"]);
  });
});
