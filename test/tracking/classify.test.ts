import { describe, expect, it } from "vitest";
import { browserFamily, classify, type HitRequest, TOO_SOON_MS } from "../../src/tracking/classify";

const NOW = Date.UTC(2026, 4, 1, 12);
const HOUR_AGO = NOW - 3_600_000;

/** Real user agents, as sent by browsers, mail clients, proxies and scanners. */
const UA = {
  chromeWindows:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
  firefoxLinux: "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  safariIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  samsung:
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  cubotPhone:
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
  appleMailMac: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
  appleMailIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  outlookDesktop: "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
  thunderbird: "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1",
  gmailProxy: "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
  yahooProxy: "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
  appleMpp: "Mozilla/5.0",
  gmailSampling:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Gmail-content-sampling",
  headlessChrome:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.109 Safari/537.36",
  phantom: "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
  googlebot: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  bingPreview:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b Safari/537.36",
  facebook: "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
  slack: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  paloAlto:
    "Hello from Palo Alto Networks, find out more about our scans in https://docs-cortex.paloaltonetworks.com/r/1/Cortex-Xpanse/Scanning-activity",
  curl: "curl/8.4.0",
  wget: "Wget/1.21.4",
  pythonRequests: "python-requests/2.31.0",
  goHttp: "Go-http-client/1.1",
  okhttp: "okhttp/4.12.0",
};

function hit(overrides: Partial<HitRequest>): HitRequest {
  return {
    kind: "click",
    method: "GET",
    userAgent: UA.chromeWindows,
    referrer: null,
    asn: null,
    asOrganization: null,
    country: null,
    sentAt: HOUR_AGO,
    now: NOW,
    ...overrides,
  };
}

const reason = (overrides: Partial<HitRequest>) => classify(hit(overrides)).reason;

describe("classify: people", () => {
  it.each([
    ["chromeWindows", "Chrome on Windows"],
    ["edge", "Edge on Windows"],
    ["firefoxLinux", "Firefox on Linux"],
    ["safariIphone", "Safari on iOS"],
    ["samsung", "Samsung Internet on Android"],
    ["cubotPhone", "Chrome on Android"],
  ] as const)("a click from %s is a person's (%s)", (name, family) => {
    expect(classify(hit({ userAgent: UA[name] }))).toEqual({ human: true, reason: null, client: family });
  });

  it.each([
    ["appleMailMac", "Apple Mail on macOS"],
    ["appleMailIphone", "Apple Mail on iOS"],
    ["outlookDesktop", "Outlook on Windows"],
    ["thunderbird", "Thunderbird on Linux"],
    ["gmailProxy", "Gmail image proxy"],
    ["yahooProxy", "Yahoo Mail image proxy"],
  ] as const)("an open from %s is a person's (%s)", (name, family) => {
    expect(classify(hit({ kind: "open", userAgent: UA[name] }))).toEqual({ human: true, reason: null, client: family });
  });

  it("describes the client coarsely: family, country, network name, never an address", () => {
    const result = classify(hit({ country: "FR", asn: 3215, asOrganization: "Orange S.A." }));
    expect(result.client).toBe("Chrome on Windows · FR · Orange S.A.");
  });

  it("counts an open through Microsoft's or Google's network: their webmail image proxies fetch on real opens", () => {
    expect(reason({ kind: "open", asn: 8075 })).toBeNull();
    expect(reason({ kind: "open", userAgent: UA.gmailProxy, asn: 15169 })).toBeNull();
  });

  it("does not judge clicks by Apple's network (iCloud Private Relay carries people's browsing)", () => {
    expect(reason({ kind: "click", asn: 714 })).toBeNull();
  });
});

describe("classify: machines", () => {
  it("HEAD requests", () => {
    expect(classify(hit({ method: "HEAD" }))).toMatchObject({ human: false, reason: "head_request" });
    expect(reason({ kind: "open", method: "head" })).toBe("head_request");
  });

  it.each([
    ["Mozilla/5.0 (compatible; Mimecast URL Protect)", "mimecast"],
    ["Proofpoint URL Defense/1.0", "proofpoint"],
    ["Mozilla/5.0 (compatible; Barracuda Link Protection)", "barracuda"],
    ["Cisco IronPort URL scanner", "cisco_ironport"],
    ["Mozilla/5.0 (compatible; SafeLinks)", "microsoft_safelinks"],
    [UA.gmailSampling, "gmail_link_check"],
    [UA.paloAlto, "palo_alto"],
    [UA.headlessChrome, "headless_browser"],
    [UA.phantom, "headless_browser"],
    [UA.curl, "http_library"],
    [UA.wget, "http_library"],
    [UA.pythonRequests, "http_library"],
    [UA.goHttp, "http_library"],
    [UA.okhttp, "http_library"],
    [UA.googlebot, "bot"],
    [UA.bingPreview, "bot"],
    [UA.facebook, "bot"],
    [UA.slack, "bot"],
  ])("scanner user agent %s", (userAgent, name) => {
    expect(classify(hit({ userAgent }))).toMatchObject({ human: false, reason: `scanner_user_agent:${name}` });
    expect(reason({ kind: "open", userAgent })).toBe(`scanner_user_agent:${name}`);
  });

  it("Office's link check on a click, while Outlook fetching the pixel is a read", () => {
    expect(reason({ userAgent: UA.outlookDesktop })).toBe("scanner_user_agent:microsoft_office");
    expect(reason({ userAgent: "Microsoft Office Existence Discovery" })).toBe("scanner_user_agent:microsoft_office");
    expect(reason({ kind: "open", userAgent: UA.outlookDesktop })).toBeNull();
  });

  it("no user agent, or a bare Mozilla/5.0 on a click", () => {
    expect(reason({ userAgent: null })).toBe("scanner_user_agent:empty");
    expect(reason({ userAgent: "  " })).toBe("scanner_user_agent:empty");
    expect(reason({ userAgent: UA.appleMpp })).toBe("scanner_user_agent:minimal");
  });

  it.each([
    ["https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fma.example%2Fl%2Fx", "microsoft_safelinks"],
    ["https://urldefense.com/v3/__https://ma.example/l/x__;!!abc", "proofpoint"],
    ["https://urldefense.proofpoint.com/v2/url?u=https-3A__ma.example_l_x", "proofpoint"],
    ["https://protect-eu.mimecast.com/s/abc", "mimecast"],
    ["https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fma.example", "barracuda"],
    ["https://secure-web.cisco.com/1abc/https%3A%2F%2Fma.example", "cisco_ironport"],
  ])("referrer %s", (referrer, name) => {
    expect(reason({ referrer })).toBe(`scanner_referrer:${name}`);
  });

  it("ignores referrers that merely look alike", () => {
    expect(reason({ referrer: "https://safelinks.protection.outlook.com.evil.example/" })).toBeNull();
    expect(reason({ referrer: "https://shop.example/?from=urldefense.com" })).toBeNull();
    expect(reason({ referrer: "not a url" })).toBeNull();
  });

  it.each([
    [8075, "click"],
    [30031, "click"],
    [30031, "open"],
    [22843, "open"],
    [26211, "click"],
    [15324, "click"],
    [16417, "open"],
  ] as const)("network AS%d on a %s", (asn, kind) => {
    expect(reason({ kind, asn })).toBe(`scanner_network:AS${asn}`);
  });

  it("a vendor's network by name when the ASN is unknown", () => {
    expect(classify(hit({ asOrganization: "Mimecast Ltd" }))).toMatchObject({
      human: false,
      reason: "scanner_network:mimecast",
      client: "mimecast · Mimecast Ltd",
    });
  });

  it("Apple Mail Privacy Protection prefetches: its user agent or Apple's network, on opens", () => {
    expect(reason({ kind: "open", userAgent: UA.appleMpp })).toBe("apple_mpp_prefetch");
    expect(reason({ kind: "open", userAgent: UA.appleMailIphone, asn: 714 })).toBe("apple_mpp_prefetch");
    expect(classify(hit({ kind: "open", userAgent: UA.appleMpp })).client).toBe("Apple Mail Privacy Protection");
  });

  it(`hits within ${TOO_SOON_MS} ms of delivery, or while still sending`, () => {
    expect(reason({ sentAt: NOW - TOO_SOON_MS + 1 })).toBe("too_soon_after_delivery");
    expect(reason({ kind: "open", sentAt: NOW - 100 })).toBe("too_soon_after_delivery");
    expect(reason({ sentAt: null })).toBe("too_soon_after_delivery");
    expect(reason({ sentAt: NOW - TOO_SOON_MS })).toBeNull();
    // A hit not about one e-mail (an unsubscribe without a next page) skips the rule.
    expect(reason({ kind: "unsubscribe", sentAt: undefined })).toBeNull();
  });

  it("names the first rule that matched", () => {
    expect(reason({ method: "HEAD", userAgent: UA.curl, sentAt: NOW })).toBe("head_request");
    expect(reason({ userAgent: UA.curl, asn: 8075, sentAt: NOW })).toBe("scanner_user_agent:http_library");
    expect(reason({ asn: 8075, sentAt: NOW })).toBe("scanner_network:AS8075");
  });
});

describe("browserFamily", () => {
  it("falls back to other", () => {
    expect(browserFamily(null)).toBe("other");
    expect(browserFamily("SomethingNew/1.0 (Windows NT 10.0)")).toBe("other on Windows");
  });
});
