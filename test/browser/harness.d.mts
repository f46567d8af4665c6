import type { BrowserContext, Page } from "playwright-core";

export declare const root: string;
export declare const TOKEN: string;
export declare const CHROMIUM: string;
export declare const USER_AGENT: string;

export declare function sleep(ms: number): Promise<void>;

export interface Server {
  base: string;
  pid: number;
  stop(): Promise<void>;
  output(): string;
}
export declare function startServer(): Promise<Server>;

export type Api = (method: string, path: string, body?: unknown) => Promise<any>;
export declare function apiClient(base: string): Api;

export declare function until<T>(
  probe: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  options?: { every?: number; timeoutMs?: number; what?: string },
): Promise<T>;

export interface OpenBrowser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}
export declare function openBrowser(options?: {
  viewport?: { width: number; height: number };
  bypassCSP?: boolean;
}): Promise<OpenBrowser>;

export declare function screenshotPath(name: string): string;
