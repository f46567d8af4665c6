import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Each test file has its own storage: migrate it once (applyD1Migrations skips what is already applied).
await applyD1Migrations(
  env.DB,
  (env as unknown as { TEST_MIGRATIONS: { name: string; queries: string[] }[] }).TEST_MIGRATIONS,
);
