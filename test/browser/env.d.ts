// What the global setup provides to the specs (vitest's inject).
declare module "vitest" {
  export interface ProvidedContext {
    /** Base URL of the `wrangler dev` the browser tests run against. */
    base: string;
  }
}

export {};
