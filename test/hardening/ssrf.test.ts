import { describe, expect, it } from "vitest";
import { privateHostReason } from "../../src/actions/private-address";
import { api, expectError, ok } from "../helpers";

const reason = (url: string) => privateHostReason(new URL(url));

describe("the webhook filter refuses every IPv6 form of a private or non-global address", () => {
  const refused = [
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[64:ff9b:1::10.0.0.1]/",
    "http://[::ffff:0:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[2002:a9fe:a9fe::1]/",
    "http://[fec0::1]/",
    "http://[fe80::1%25eth0]/",
    "http://[2001:db8::1]/",
    "http://[2001::1]/",
    "http://[100::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[fd12:3456::1]/",
    "http://[ff02::1]/",
  ];

  it("names why for each, and lets global addresses through", () => {
    for (const url of refused) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(url);
      } catch {
        continue; // the URL parser refuses it already (a zone id)
      }
      expect(privateHostReason(parsed), url).not.toBeNull();
    }
    for (const url of [
      "http://[2606:4700::1111]/",
      "http://[64:ff9b::8.8.8.8]/",
      "http://[2002:808:808::1]/",
      "http://[::ffff:8.8.8.8]/",
    ]) {
      expect(reason(url), url).toBeNull();
    }
  });

  it("refuses them when an activity is saved", async () => {
    const s = await ok("POST", "/scenarios", { name: "Hook v6", model: "party" });
    for (const url of [
      "http://[::127.0.0.1]/",
      "http://[64:ff9b::127.0.0.1]/",
      "http://[::ffff:0:127.0.0.1]/",
      "http://[2002:7f00:1::]/",
      "http://[fec0::1]/",
    ]) {
      expectError(
        await api("POST", `/scenarios/${s.id}/activities`, { name: "H", action: "webhook", settings: { url } }),
        400,
        "settings.url: refused",
      );
    }
  });
});
