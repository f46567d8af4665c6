/**
 * Whether a URL's host is one a webhook must not reach: loopback, private, link-local (cloud metadata endpoints such
 * as 169.254.169.254 live there), carrier-grade NAT, unspecified, multicast or reserved addresses, given literally,
 * and host names that only exist inside a network (`localhost`, `*.local`, `*.internal`). The URL parser has already
 * normalised IPv4 spellings (`2130706433`, `0x7f.1`) to dotted quads. Returns why, or null when the host is public.
 */
export function privateHostReason(url: URL): string | null {
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return `${host} is a loopback name`;
  if (host.endsWith(".local") || host.endsWith(".internal") || host.endsWith(".home.arpa") || !host.includes(".")) {
    if (!host.startsWith("[")) return `${host} is a local network name`;
  }
  if (host.startsWith("[")) return ipv6Reason(host.slice(1, -1));
  const v4 = ipv4(host);
  return v4 ? ipv4Reason(v4, host) : null;
}

function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

const V4_RANGES: [number[], number, string][] = [
  [[0, 0, 0, 0], 8, "an unspecified address"],
  [[10, 0, 0, 0], 8, "a private address"],
  [[100, 64, 0, 0], 10, "a carrier-grade NAT address"],
  [[127, 0, 0, 0], 8, "a loopback address"],
  [[169, 254, 0, 0], 16, "a link-local address (cloud metadata)"],
  [[172, 16, 0, 0], 12, "a private address"],
  [[192, 0, 0, 0], 24, "a reserved address"],
  [[192, 168, 0, 0], 16, "a private address"],
  [[198, 18, 0, 0], 15, "a benchmarking address"],
  [[224, 0, 0, 0], 4, "a multicast address"],
  [[240, 0, 0, 0], 4, "a reserved address"],
];

function ipv4Reason(bytes: number[], host: string): string | null {
  const value = bytes.reduce((n, b) => n * 256 + b, 0);
  for (const [base, bits, what] of V4_RANGES) {
    const start = base.reduce((n, b) => n * 256 + b, 0);
    const size = 2 ** (32 - bits);
    if (value >= start && value < start + size) return `${host} is ${what}`;
  }
  return null;
}

function ipv6Reason(address: string): string | null {
  const a = address.toLowerCase();
  if (a === "::" || a === "::1") return `[${a}] is a loopback or unspecified address`;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a) ?? /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(a);
  if (mapped) {
    const v4 =
      mapped.length === 2
        ? ipv4(mapped[1] as string)
        : [parseInt(mapped[1] as string, 16), parseInt(mapped[2] as string, 16)].flatMap((w) => [w >> 8, w & 255]);
    return v4 ? (ipv4Reason(v4, `[${a}]`) ?? null) : null;
  }
  const first = parseInt(a.split(":")[0] || "0", 16);
  if ((first & 0xfe00) === 0xfc00) return `[${a}] is a unique local address`;
  if ((first & 0xffc0) === 0xfe80) return `[${a}] is a link-local address`;
  if ((first & 0xff00) === 0xff00) return `[${a}] is a multicast address`;
  return null;
}
