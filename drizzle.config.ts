import { defineConfig } from "drizzle-kit";

/** `npm run db:generate` writes SQL migrations from src/db/schema into migrations/, which wrangler applies. */
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
