import { describe, expect, it } from "vitest";
import { fallbackChain, pickLanguage } from "../../src/recipients/language";
import { messagesFor } from "../../src/tracking/messages";

describe("language fallback", () => {
  it("walks fr_CA → fr → the default", () => {
    expect(fallbackChain("fr_CA")).toEqual(["fr_ca", "fr"]);
    expect(pickLanguage("fr_CA", ["fr_CA", "fr"])).toBe("fr_CA");
    expect(pickLanguage("fr_CA", ["de", "fr"])).toBe("fr");
    expect(pickLanguage("fr-ca", ["fr"])).toBe("fr");
    expect(pickLanguage("fr_CA", ["de"])).toBeNull();
  });

  it("does not pick a regional version for the bare language", () => {
    expect(pickLanguage("fr", ["fr_CA"])).toBeNull();
  });

  it("takes the default for a missing or malformed lang", () => {
    expect(pickLanguage(undefined, ["fr"])).toBeNull();
    expect(pickLanguage(42, ["fr"])).toBeNull();
    expect(pickLanguage("../fr", ["fr"])).toBeNull();
  });

  it("gives the public pages the same chain", () => {
    expect(messagesFor("fr_CA").lang).toBe("fr");
    expect(messagesFor("de-AT").lang).toBe("de");
    expect(messagesFor("it").lang).toBe("en");
  });
});
