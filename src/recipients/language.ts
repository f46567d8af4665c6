/**
 * The language fallback chain: a party's `lang` (`fr_CA`, `fr-CA`, `FR`) tries the exact language, then its primary
 * language, then the default. Pure, shared by e-mail content and the public pages.
 */

/** A language tag in one spelling: lower case, `_` between parts (`fr-CA` → `fr_ca`). Null when it is not one. */
export function normalizeLang(lang: unknown): string | null {
  if (typeof lang !== "string") return null;
  const tag = lang.trim().toLowerCase().replace(/-/g, "_");
  return /^[a-z]{2,3}(_[a-z0-9]{2,8})*$/.test(tag) ? tag : null;
}

/** The tags to try, most specific first: `fr_ca_x` → [`fr_ca_x`, `fr_ca`, `fr`]. Empty when `lang` is not a tag. */
export function fallbackChain(lang: unknown): string[] {
  const tag = normalizeLang(lang);
  if (!tag) return [];
  const parts = tag.split("_");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("_"));
}

/**
 * The first of `available` (as given, any spelling) on the chain of `lang`; null means the default version.
 * `pickLanguage("fr_CA", ["fr", "de"])` is `"fr"`; `pickLanguage("it", ["fr"])` is null.
 */
export function pickLanguage(lang: unknown, available: Iterable<string>): string | null {
  const byTag = new Map<string, string>();
  for (const key of available) {
    const tag = normalizeLang(key);
    if (tag && !byTag.has(tag)) byTag.set(tag, key);
  }
  for (const tag of fallbackChain(lang)) {
    const key = byTag.get(tag);
    if (key !== undefined) return key;
  }
  return null;
}
