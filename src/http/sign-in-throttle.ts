import type { Bindings } from "../env";

/**
 * Sign-in throttling, for admin API bearer tokens and console sign-ins alike: a client address (CF-Connecting-IP) that
 * fails more than SIGN_IN_FAILURES a minute (Cloudflare's rate-limiting binding SIGN_IN_LIMITER, `[[ratelimits]]` in
 * wrangler.toml) is refused with 429 for the next minute, even with the right token, so guessing gains nothing. The
 * refusal is remembered in the Cache API of the data centre, as the binding's counters are. Requests without a client
 * address (local tools, tests) and deployments without the binding are not throttled.
 */
export const SIGN_IN_FAILURES = 10;
export const SIGN_IN_BLOCK_SECONDS = 60;

interface Throttled {
  SIGN_IN_LIMITER?: RateLimit;
}

function clientAddress(request: Request): string | null {
  const address = request.headers.get("cf-connecting-ip");
  return address === null ? null : throttleKey(address);
}

/**
 * The key a client's failures count under: an IPv4 address itself, an IPv6 address's /64 (`2001:db8:1:2::/64`),
 * since one subscriber holds a whole /64 and could otherwise try 2^64 addresses. An IPv4-mapped address counts as its
 * IPv4 address.
 */
export function throttleKey(address: string): string {
  const a = address.trim().toLowerCase().replace(/%.*$/, "");
  if (!a.includes(":")) return a;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  if (mapped) return mapped[1] as string;
  const halves = a.replace(/:\d+\.\d+\.\d+\.\d+$/, ":0:0").split("::");
  const head = (halves[0] ?? "").split(":").filter((g) => g !== "");
  const tail = halves.length > 1 ? (halves[1] ?? "").split(":").filter((g) => g !== "") : [];
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill("0"), ...tail];
  const prefix = groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16));
  return `${prefix.join(":")}::/64`;
}

function blockKey(request: Request, address: string): string {
  return `${new URL(request.url).origin}/__sign-in-blocked/${encodeURIComponent(address)}`;
}

/** Seconds the client must wait before it may try again, or null when it may sign in now. */
export async function signInBlocked(request: Request): Promise<number | null> {
  const address = clientAddress(request);
  if (address === null) return null;
  try {
    const marker = await caches.default.match(blockKey(request, address));
    if (!marker) return null;
    const until = Number(marker.headers.get("x-blocked-until"));
    return Math.max(1, Math.ceil((until - Date.now()) / 1000));
  } catch {
    return null;
  }
}

/** Counts a failed sign-in; returns the seconds to wait when this failure went over the limit, else null. */
export async function signInFailed(env: Bindings, request: Request): Promise<number | null> {
  const address = clientAddress(request);
  const limiter = (env as Throttled).SIGN_IN_LIMITER;
  if (address === null || !limiter) return null;
  const { success } = await limiter.limit({ key: address });
  if (success) return null;
  const until = Date.now() + SIGN_IN_BLOCK_SECONDS * 1000;
  try {
    await caches.default.put(
      blockKey(request, address),
      new Response(null, {
        headers: { "Cache-Control": `max-age=${SIGN_IN_BLOCK_SECONDS}`, "x-blocked-until": String(until) },
      }),
    );
  } catch {
    // No cache here (workers.dev): the binding still refuses each failure over the limit.
  }
  return SIGN_IN_BLOCK_SECONDS;
}

export const tooManyMessage = (seconds: number) =>
  `too many failed sign-ins from this address: try again in ${seconds} s`;
