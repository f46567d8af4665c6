import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getConfig, parseAddress } from "../../src/env";
import { AppError } from "../../src/errors";
import worker from "../../src/index";

const base = {
  EMAIL_FROM: "Marketing <m@example.com>",
  WEB_HOSTNAME: "ma.example",
  MAIL_TRANSPORT: "local",
  TRACKING_SECRET: "a-tracking-secret-of-32-characters!",
  LOCAL_MODE: "1",
};

function configError(overrides: Record<string, unknown>): string {
  try {
    getConfig({ ...base, ...overrides } as never);
  } catch (err) {
    if (err instanceof AppError) return err.message;
    throw err;
  }
  throw new Error("expected a configuration error");
}

describe("configuration", () => {
  it("reads and defaults settings", () => {
    const config = getConfig({ ...base, ADMIN_TOKEN: " t " } as never);
    expect(config.automationBase).toBe("https://ma.example");
    expect(config.emailFrom).toEqual({ name: "Marketing", address: "m@example.com" });
    expect(config.adminToken).toBe("t");
    expect(config.retentionDays).toBeNull();
    expect(getConfig({ ...base, RETENTION_DAYS: "90" } as never).retentionDays).toBe(90);
  });

  it("names the faulty setting", () => {
    expect(configError({ MAIL_TRANSPORT: "carrier-pigeon" })).toContain("MAIL_TRANSPORT");
    expect(configError({ RETENTION_DAYS: "0" })).toContain("RETENTION_DAYS must be a whole number of days");
    expect(configError({ RETENTION_DAYS: "1.5" })).toContain("RETENTION_DAYS");
    expect(configError({ EMAIL_FROM: "not an address" })).toContain("EMAIL_FROM");
    expect(configError({ EMAIL_FROM: undefined })).toContain("EMAIL_FROM");
    expect(configError({ WEB_HOSTNAME: undefined })).toContain("AUTOMATION_BASE or WEB_HOSTNAME");
    expect(configError({ AUTOMATION_BASE: "https://x.example/path" })).toContain("without a path");
    expect(configError({ AUTOMATION_BASE: "ftp://x.example" })).toContain("AUTOMATION_BASE");
    expect(configError({ MAILCHANNELS_DKIM_DOMAIN: "x.example" })).toContain("must be set together");
    expect(configError({ TRACKING_SECRET: undefined })).toContain("TRACKING_SECRET is required");
    expect(configError({ TRACKING_SECRET: "short" })).toContain("TRACKING_SECRET must be at least 32 characters");
  });

  it("fails the first request loudly with the setting's name, not a stack trace", async () => {
    const broken = { ...env, MAIL_TRANSPORT: "carrier-pigeon" };
    const res = await worker.fetch(
      new Request("https://ma.example/api/models", { headers: { authorization: "Bearer test-admin-token" } }),
      broken as never,
      createExecutionContext(),
    );
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("misconfigured");
    expect(body.error.message).toContain("MAIL_TRANSPORT");
  });

  it("refuses every admin call when no ADMIN_TOKEN is configured, saying so", async () => {
    const closed = { ...env, ADMIN_TOKEN: undefined };
    const res = await worker.fetch(
      new Request("https://ma.example/api/models", { headers: { authorization: "Bearer anything" } }),
      closed as never,
      createExecutionContext(),
    );
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      "no ADMIN_TOKEN is configured",
    );
  });

  it("parses addresses", () => {
    expect(parseAddress('"Dunder Mifflin" <sales@dm.example>')).toEqual({
      name: "Dunder Mifflin",
      address: "sales@dm.example",
    });
    expect(parseAddress("sales@dm.example")).toEqual({ name: null, address: "sales@dm.example" });
    expect(parseAddress("sales@")).toBeNull();
    expect(parseAddress("a b@c.example")).toBeNull();
  });
});
