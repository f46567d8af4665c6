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

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part allowed), or null when it is not one. */
function ipv6Groups(address: string): number[] | null {
  let text = address.replace(/%.*$/, "");
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4(dotted[2] as string);
    if (!v4) return null;
    text = `${dotted[1]}${((v4[0] as number) * 256 + (v4[1] as number)).toString(16)}:${((v4[2] as number) * 256 + (v4[3] as number)).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const part = (h: string) => (h === "" ? [] : h.split(":"));
  const head = part(halves[0] as string);
  const tail = halves.length === 2 ? part(halves[1] as string) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

const v4Of = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255];

/**
 * Only global unicast (2000::/3) may be called, and an address that carries an IPv4 address (IPv4-mapped and
 * -compatible, SIIT, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, 6to4 2002::/16) only when that IPv4 address is public
 * itself. Everything else is refused: loopback, unspecified, unique and site-local, link-local, multicast, Teredo,
 * documentation and the other special ranges.
 */
function ipv6Reason(address: string): string | null {
  const a = address.toLowerCase();
  const g = ipv6Groups(a);
  const at = `[${a}]`;
  if (!g) return `${at} is not an IPv6 address`;
  const [g0, g1, g2, g3, g4, g5, g6, g7] = g as [number, number, number, number, number, number, number, number];
  const embedded = (v4: number[]) => ipv4Reason(v4, `${at} (${v4.join(".")})`);
  if (g.every((x) => x === 0)) return `${at} is the unspecified address`;
  if (g.slice(0, 7).every((x) => x === 0) && g7 === 1) return `${at} is a loopback address`;
  // ::a.b.c.d (compatible), ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (SIIT): the IPv4 address is what is reached.
  if (
    g0 === 0 &&
    g1 === 0 &&
    g2 === 0 &&
    g3 === 0 &&
    ((g4 === 0 && (g5 === 0 || g5 === 0xffff)) || (g4 === 0xffff && g5 === 0))
  ) {
    return embedded(v4Of(g6, g7));
  }
  if (g0 === 0x64 && g1 === 0xff9b && (g2 === 0 || g2 === 1)) return embedded(v4Of(g6, g7)); // NAT64
  if (g0 === 0x2002) return embedded(v4Of(g1, g2)); // 6to4
  if ((g0 & 0xe000) !== 0x2000) {
    if ((g0 & 0xfe00) === 0xfc00) return `${at} is a unique local address`;
    if ((g0 & 0xffc0) === 0xfe80) return `${at} is a link-local address`;
    if ((g0 & 0xffc0) === 0xfec0) return `${at} is a site-local address`;
    if ((g0 & 0xff00) === 0xff00) return `${at} is a multicast address`;
    return `${at} is not a global unicast address`;
  }
  if (g0 === 0x2001 && g1 < 0x200) return `${at} is a special-purpose address (Teredo and other protocol ranges)`;
  if (g0 === 0x2001 && g1 === 0xdb8) return `${at} is a documentation address`;
  if (g0 === 0x3fff && g1 < 0x1000) return `${at} is a documentation address`;
  return null;
}
