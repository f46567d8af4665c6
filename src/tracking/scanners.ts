import type { HitKind } from "../db/schema/emails";

/**
 * The catalogue of known machines that fetch tracking URLs. Each entry names the hit kinds it may judge: a source that
 * also carries a person's own requests for one kind (Outlook desktop fetching the pixel when its user reads the mail)
 * is only trusted for the others. Sources and the reasoning behind each entry are in docs/tracking.md.
 */
export interface UserAgentRule {
  name: string;
  pattern: RegExp;
  kinds: readonly HitKind[];
}

const ALL: readonly HitKind[] = ["click", "open", "unsubscribe", "confirm"];
const CLICKS: readonly HitKind[] = ["click"];

/** Matched in order against the User-Agent header; the first match names the scanner. */
export const SCANNER_USER_AGENTS: readonly UserAgentRule[] = [
  // Mail-security gateways that announce themselves.
  { name: "microsoft_safelinks", pattern: /safelinks|defender for office/i, kinds: ALL },
  { name: "mimecast", pattern: /mimecast/i, kinds: ALL },
  { name: "proofpoint", pattern: /proofpoint|urldefense/i, kinds: ALL },
  { name: "barracuda", pattern: /barracuda|cudasvc/i, kinds: ALL },
  { name: "cisco_ironport", pattern: /ironport|cisco ?secure ?email|ciscosecure/i, kinds: ALL },
  { name: "trend_micro", pattern: /trend ?micro|\bTMES\b/i, kinds: ALL },
  { name: "sophos", pattern: /sophos/i, kinds: ALL },
  { name: "fireeye", pattern: /fireeye|trellix/i, kinds: ALL },
  { name: "fortinet", pattern: /forti(?:net|guard|mail)/i, kinds: ALL },
  { name: "symantec", pattern: /symantec|broadcom|messagelabs|bluecoat/i, kinds: ALL },
  { name: "palo_alto", pattern: /palo ?alto ?networks|paloalto/i, kinds: ALL },
  { name: "check_point", pattern: /check ?point/i, kinds: ALL },
  { name: "gmail_link_check", pattern: /gmail-content-sampling/i, kinds: ALL },
  // Office applications check a link (protocol discovery, Safe Links time-of-click) before handing it to the browser;
  // the person's own click then arrives from the browser. Outlook desktop also fetches the pixel with this user agent
  // when its user reads the mail, so for opens it is a person.
  {
    name: "microsoft_office",
    pattern: /\bms-?office\b|microsoft (?:office|outlook)|existence discovery/i,
    kinds: CLICKS,
  },
  // Automation: nobody reads mail in these.
  {
    name: "headless_browser",
    pattern: /headless|phantomjs|puppeteer|playwright|selenium|webdriver|slimerjs|htmlunit|lighthouse/i,
    kinds: ALL,
  },
  {
    name: "http_library",
    pattern:
      /^(?:curl|wget|java|ruby|php|python|node|undici|axios|httpie|libwww-perl)\b|requests\/|urllib|httpx|aiohttp|apache-httpclient|go-http-client|okhttp|node-fetch|scrapy/i,
    kinds: ALL,
  },
  // Generic tokens crawlers and link previewers put in their user agent. "Cubot" is a phone brand.
  {
    name: "bot",
    pattern: /(?<!cu)bot\b|crawl|spider|slurp|preview|scanner|fetcher|link ?check|facebookexternalhit|embedly/i,
    kinds: ALL,
  },
];

export interface ReferrerRule {
  name: string;
  /** Host names (or their parent domains) of the link-rewriting services that fetch on the recipient's behalf. */
  hosts: readonly string[];
}

/** Requests whose Referer is a link-rewriting service's own page. */
export const SCANNER_REFERRERS: readonly ReferrerRule[] = [
  { name: "microsoft_safelinks", hosts: ["safelinks.protection.outlook.com"] },
  { name: "proofpoint", hosts: ["urldefense.com", "urldefense.proofpoint.com", "urldefense.us"] },
  { name: "mimecast", hosts: ["mimecast.com", "mimecastprotect.com"] },
  { name: "barracuda", hosts: ["linkprotect.cudasvc.com"] },
  { name: "cisco_ironport", hosts: ["secure-web.cisco.com"] },
];

export interface NetworkRule {
  asn: number;
  name: string;
  kinds: readonly HitKind[];
}

/**
 * Networks by autonomous system number (`request.cf.asn`). Mail-security vendors carry no consumer traffic, so any hit
 * from them is a machine. Microsoft's network also carries Outlook.com's image proxy, which fetches the pixel when a
 * person reads the mail: it only judges clicks.
 */
export const SCANNER_NETWORKS: readonly NetworkRule[] = [
  { asn: 8075, name: "microsoft", kinds: CLICKS },
  { asn: 8074, name: "microsoft", kinds: CLICKS },
  { asn: 12076, name: "microsoft", kinds: CLICKS },
  { asn: 30031, name: "mimecast", kinds: ALL },
  { asn: 39588, name: "mimecast", kinds: ALL },
  { asn: 42427, name: "mimecast", kinds: ALL },
  { asn: 60492, name: "mimecast", kinds: ALL },
  { asn: 22843, name: "proofpoint", kinds: ALL },
  { asn: 26211, name: "proofpoint", kinds: ALL },
  { asn: 52129, name: "proofpoint", kinds: ALL },
  { asn: 15324, name: "barracuda", kinds: ALL },
  { asn: 16417, name: "cisco_ironport", kinds: ALL },
];

/** When the ASN is unknown, the network's registered name (`request.cf.asOrganization`) of the same vendors. */
export const SCANNER_ORGANIZATIONS = /mimecast|proofpoint|barracuda|ironport/i;

/** Apple's network: Mail Privacy Protection fetches every image of a message through it, whether read or not. */
export const APPLE_ASN = 714;

/** Mail Privacy Protection's proxy sends exactly this user agent, nothing more. */
export const APPLE_MPP_USER_AGENT = "Mozilla/5.0";
