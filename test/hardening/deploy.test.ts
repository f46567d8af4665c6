/// <reference types="vite/client" />
import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import readme from "../../README.md?raw";
import { getConfig } from "../../src/env";
import { AppError } from "../../src/errors";
import worker from "../../src/index";
import wranglerToml from "../../wrangler.toml?raw";

const production = {
  EMAIL_FROM: "Marketing <news@mail.shop-42.com>",
  WEB_HOSTNAME: "go.shop-42.com",
  MAIL_TRANSPORT: "mailchannels",
  MAILCHANNELS_API_KEY: "key",
  TRACKING_SECRET: "a-production-tracking-secret-of-32-chars",
};

function problem(overrides: Record<string, unknown>): string | null {
  try {
    getConfig({ ...production, ...overrides } as never);
    return null;
  } catch (err) {
    if (err instanceof AppError) return err.message;
    throw err;
  }
}

/** The files of the repository a document may point at (vite resolves the glob when the tests are built). */
const files = new Set(
  Object.keys(import.meta.glob(["../../docs/**/*", "../../scripts/*", "../../*.*", "../../.dev.vars.example"])).map(
    (p) => p.replace(/^\.\.\/\.\.\//, ""),
  ),
);

describe("deploy on a fresh account", () => {
  it("wrangler.toml ships no value that only makes sense locally", () => {
    const active = wranglerToml
      .split("\n")
      .filter((line) => !line.trim().startsWith("#"))
      .join("\n");
    expect(active).not.toMatch(/localhost|127\.0\.0\.1/);
    expect(active).not.toMatch(/MAIL_TRANSPORT\s*=\s*"local"/);
    expect(active).not.toMatch(/LOCAL_MODE/);
    expect(active).not.toMatch(/example\.com/);
  });

  it("a production configuration passes; each local-only or missing value fails naming its setting", () => {
    expect(problem({})).toBeNull();
    expect(problem({ MAIL_TRANSPORT: "local" })).toContain('MAIL_TRANSPORT is "local"');
    expect(problem({ MAIL_TRANSPORT: undefined })).toContain("MAIL_TRANSPORT must be one of");
    expect(problem({ WEB_HOSTNAME: "localhost:8787" })).toContain("WEB_HOSTNAME gives https://localhost:8787");
    expect(problem({ AUTOMATION_BASE: "http://go.shop-42.com" })).toContain("AUTOMATION_BASE gives http://");
    expect(problem({ AUTOMATION_BASE: "https://127.0.0.1:8787" })).toContain("AUTOMATION_BASE");
    expect(problem({ WEB_HOSTNAME: "ma.example" })).toContain("WEB_HOSTNAME");
    expect(problem({ WEB_HOSTNAME: undefined })).toContain("AUTOMATION_BASE or WEB_HOSTNAME must be set");
    expect(problem({ EMAIL_FROM: "Marketing <marketing@example.com>" })).toContain(
      "EMAIL_FROM is an address at example.com",
    );
    expect(problem({ EMAIL_FROM: undefined })).toContain("EMAIL_FROM is required");
    expect(problem({ TRACKING_SECRET: undefined })).toContain("TRACKING_SECRET is required");
    // Local values are fine where npm start and the tests say so.
    expect(
      problem({
        LOCAL_MODE: "1",
        MAIL_TRANSPORT: "local",
        AUTOMATION_BASE: "http://localhost:8787",
        EMAIL_FROM: "a@example.com",
      }),
    ).toBeNull();
  });

  it("the Worker deployed with wrangler.toml as shipped fails its first request with a message naming the setting", async () => {
    const shipped: Record<string, unknown> = { ...env, ...production };
    for (const name of ["EMAIL_FROM", "WEB_HOSTNAME", "AUTOMATION_BASE", "MAIL_TRANSPORT", "LOCAL_MODE"]) {
      delete shipped[name];
    }
    const res = await worker.fetch(
      new Request("https://go.shop-42.com/api/models", { headers: { authorization: "Bearer test-admin-token" } }),
      shipped as never,
      createExecutionContext(),
    );
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toContain("EMAIL_FROM is required");
  });

  it("every file the README and wrangler.toml point at exists", () => {
    const referenced = new Set<string>();
    for (const text of [readme, wranglerToml]) {
      for (const m of text.matchAll(/\b((?:docs|scripts)\/[\w./-]+\.(?:md|png|mjs|sh))\b/g)) {
        referenced.add(m[1] as string);
      }
    }
    expect(referenced.has("docs/deploy.md")).toBe(true);
    for (const file of referenced) expect(files.has(file), file).toBe(true);
  });
});
