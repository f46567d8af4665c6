import type { HitKind } from "../db/schema/emails";
import {
  APPLE_ASN,
  APPLE_MPP_USER_AGENT,
  SCANNER_NETWORKS,
  SCANNER_ORGANIZATIONS,
  SCANNER_REFERRERS,
  SCANNER_USER_AGENTS,
} from "./scanners";

/** A hit this soon after the e-mail was handed to the transport is a delivery-time scan: nobody reads that fast. */
export const TOO_SOON_MS = 5_000;

/** What classification looks at: the request's method and headers, Cloudflare's view of its network, and timing. */
export interface HitRequest {
  kind: HitKind;
  method: string;
  userAgent: string | null;
  referrer: string | null;
  /** `request.cf.asn`, `request.cf.asOrganization`, `request.cf.country`: never the IP address itself. */
  asn: number | null;
  asOrganization: string | null;
  country: string | null;
  /**
   * When the e-mail was handed to the transport (epoch ms): null while it is still being sent; undefined when unknown
   * or when the hit is not about one e-mail (an unsubscribe without a stored next page), which skips the timing rule.
   */
  sentAt?: number | null;
  /** When the request arrived (epoch ms). */
  now: number;
}

export interface Classification {
  human: boolean;
  /** Why the hit is a machine's (`head_request`, `scanner_user_agent:mimecast`, …); null for a person. */
  reason: string | null;
  /** A coarse description: browser family or scanner name, country, network name. Never the IP address. */
  client: string;
}

/**
 * Decides whether a hit on a tracking route was a person's, so machine hits (link scanners, image prefetchers, HEAD
 * probes, delivery-time scans) are stored but never fire events. Pure: the rules are in docs/tracking.md.
 */
export function classify(hit: HitRequest): Classification {
  const verdict = machineReason(hit);
  const family = verdict?.scanner ?? browserFamily(hit.userAgent);
  const client = [family, hit.country, hit.asOrganization?.slice(0, 64)].filter(Boolean).join(" · ");
  return { human: verdict === null, reason: verdict?.reason ?? null, client };
}

interface Verdict {
  reason: string;
  scanner: string | null;
}

function machineReason(hit: HitRequest): Verdict | null {
  if (hit.method.toUpperCase() === "HEAD") return { reason: "head_request", scanner: null };
  const ua = hit.userAgent?.trim() ?? "";

  if (hit.kind === "open" && (ua === APPLE_MPP_USER_AGENT || hit.asn === APPLE_ASN)) {
    return { reason: "apple_mpp_prefetch", scanner: "Apple Mail Privacy Protection" };
  }
  if (ua === "") return { reason: "scanner_user_agent:empty", scanner: null };
  // No browser sends a bare "Mozilla/5.0"; Apple's proxy does, for images only (handled above).
  if (ua === APPLE_MPP_USER_AGENT) return { reason: "scanner_user_agent:minimal", scanner: null };
  for (const rule of SCANNER_USER_AGENTS) {
    if (rule.kinds.includes(hit.kind) && rule.pattern.test(ua)) {
      return { reason: `scanner_user_agent:${rule.name}`, scanner: rule.name };
    }
  }

  const referrerScanner = scannerByReferrer(hit.referrer);
  if (referrerScanner) return { reason: `scanner_referrer:${referrerScanner}`, scanner: referrerScanner };

  if (hit.asn !== null) {
    const network = SCANNER_NETWORKS.find((n) => n.asn === hit.asn && n.kinds.includes(hit.kind));
    if (network) return { reason: `scanner_network:AS${network.asn}`, scanner: network.name };
  } else if (hit.asOrganization) {
    const vendor = SCANNER_ORGANIZATIONS.exec(hit.asOrganization)?.[0]?.toLowerCase();
    if (vendor) return { reason: `scanner_network:${vendor}`, scanner: vendor };
  }

  // Still sending (sent_at not yet written) or within seconds of it: the gateway scanning the delivery.
  if (hit.sentAt !== undefined && (hit.sentAt === null || hit.now - hit.sentAt < TOO_SOON_MS)) {
    return { reason: "too_soon_after_delivery", scanner: null };
  }
  return null;
}

function scannerByReferrer(referrer: string | null): string | null {
  if (!referrer) return null;
  let host: string;
  try {
    host = new URL(referrer).hostname.toLowerCase();
  } catch {
    return null;
  }
  for (const rule of SCANNER_REFERRERS) {
    if (rule.hosts.some((h) => host === h || host.endsWith(`.${h}`))) return rule.name;
  }
  return null;
}

/** The browser or mail client family behind a user agent, and its operating system: "Chrome on Windows". */
export function browserFamily(userAgent: string | null): string {
  const ua = userAgent ?? "";
  const browser = BROWSERS.find(([pattern]) => pattern.test(ua))?.[1] ?? "other";
  const os = SYSTEMS.find(([pattern]) => pattern.test(ua))?.[1];
  return os && !browser.includes("proxy") ? `${browser} on ${os}` : browser;
}

const BROWSERS: readonly [RegExp, string][] = [
  [/GoogleImageProxy/, "Gmail image proxy"],
  [/YahooMailProxy/, "Yahoo Mail image proxy"],
  [/Thunderbird\//, "Thunderbird"],
  [/Microsoft Outlook|MSOffice|Microsoft Office/i, "Outlook"],
  [/Edg(?:e|A|iOS)?\//, "Edge"],
  [/OPR\/|Opera/, "Opera"],
  [/SamsungBrowser\//, "Samsung Internet"],
  [/Firefox\/|FxiOS\//, "Firefox"],
  [/Chrome\/|CriOS\/|Chromium\//, "Chrome"],
  [/Version\/[\d.]+.*Safari\//, "Safari"],
  [/AppleWebKit\/.*\((?:Macintosh|iPhone|iPad)|\((?:Macintosh|iPhone|iPad).*AppleWebKit\//, "Apple Mail"],
];

const SYSTEMS: readonly [RegExp, string][] = [
  [/Windows/, "Windows"],
  [/iPhone|iPad|iPod/, "iOS"],
  [/Mac OS X|Macintosh/, "macOS"],
  [/Android/, "Android"],
  [/CrOS/, "ChromeOS"],
  [/Linux/, "Linux"],
];
