import { SELF } from "cloudflare:test";
import { expect } from "vitest";

export const TOKEN = "test-admin-token";
export const BASE = "https://ma.example";

type Json = Record<string, unknown> | unknown[] | null;

/** Calls the admin API through the Worker's fetch handler, with the test token unless told otherwise. */
export async function api(
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["content-type"] ??= "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await SELF.fetch(`${BASE}/api${path}`, { method, headers, body: payload });
  const text = await res.text();
  let parsed: Json | string = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** Asserts an error response: status, code, and a message that contains each fragment. */
export function expectError(res: { status: number; body: any }, status: number, ...fragments: string[]) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body?.error?.code).toBeTypeOf("string");
  for (const f of fragments) expect(res.body.error.message).toContain(f);
}

export async function ok(method: string, path: string, body?: unknown) {
  const res = await api(method, path, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).toBeLessThan(300);
  return res.body;
}
