// The checks run in Node (vitest.checks.config.ts): what they use of its `process`.
declare global {
  const process: {
    env: Record<string, string | undefined>;
    stdout: { write(text: string): boolean };
  };
}

export {};
