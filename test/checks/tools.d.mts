export interface SpamRule {
  points: number;
  name: string;
  description: string;
}
export declare function spamScore(raw: string, name?: string): Promise<{ score: number; rules: SpamRule[] }>;

export interface SpectralResult {
  code: string;
  severity: "error" | "warn" | "info" | "hint";
  path: string;
  message: string;
}
export declare function spectralLint(doc: unknown): Promise<SpectralResult[]>;

export declare function axeSource(): string;
