import { base64url } from "../ids";

/**
 * The URLs of an e-mail's links (clicks and the next page, in the order of their keys' positions), kept once in the
 * e-mail's `link_urls` column instead of a row per link. An e-mail's URLs share most of their text with each other,
 * so each is stored as what differs from the one before it (front and back coding), and that is deflated when it
 * makes the column shorter:
 *
 * - `f:` + one entry a URL, joined by `\n`: the entry is two length characters (the code point minus 32: how many
 *   leading and trailing characters the URL shares with the previous one, which for the first is `https://`) and the
 *   characters in between. Decoding is string slicing, with no decompression, on the redirect's cold path.
 * - `y:` + the same text deflated (deflate-raw), base64url, when shorter than `f:`.
 * - Written before: `z:` + the JSON array deflated (base64), or the JSON array itself. Both still decode.
 */

/** The URL the first entry is coded against. */
const FIRST_PREVIOUS = "https://";
/** Shared lengths are written as one code point below U+0800 (at most two bytes of UTF-8, never a surrogate). */
const MAX_SHARED = 0x7ff - 32;

export async function packLinkUrls(urls: string[]): Promise<string | null> {
  if (urls.length === 0) return null;
  // A URL with a line break (an href can carry one) cannot be an entry: such a list is stored the older way.
  if (urls.some((u) => u.includes("\n"))) return packJson(urls);
  const coded = frontCode(urls);
  const plain = `f:${coded}`;
  const deflated = `y:${base64url(await transform(new TextEncoder().encode(coded), new CompressionStream("deflate-raw")))}`;
  return deflated.length < new TextEncoder().encode(plain).length ? deflated : plain;
}

export async function unpackLinkUrls(stored: string | null): Promise<string[]> {
  if (!stored) return [];
  if (stored.startsWith("f:")) return frontDecode(stored.slice(2));
  if (stored.startsWith("y:")) return frontDecode(await inflate(stored.slice(2).replace(/-/g, "+").replace(/_/g, "/")));
  if (stored.startsWith("z:")) return JSON.parse(await inflate(stored.slice(2))) as string[];
  return JSON.parse(stored) as string[];
}

function frontCode(urls: string[]): string {
  let previous = FIRST_PREVIOUS;
  const entries = urls.map((url) => {
    let lead = 0;
    const most = Math.min(url.length, previous.length, MAX_SHARED);
    while (lead < most && url[lead] === previous[lead]) lead++;
    let tail = 0;
    const mostTail = Math.min(url.length - lead, previous.length - lead, MAX_SHARED);
    while (tail < mostTail && url[url.length - 1 - tail] === previous[previous.length - 1 - tail]) tail++;
    previous = url;
    return String.fromCharCode(32 + lead, 32 + tail) + url.slice(lead, url.length - tail);
  });
  return entries.join("\n");
}

function frontDecode(coded: string): string[] {
  let previous = FIRST_PREVIOUS;
  return coded.split("\n").map((entry) => {
    const lead = entry.charCodeAt(0) - 32;
    const tail = entry.charCodeAt(1) - 32;
    previous = previous.slice(0, lead) + entry.slice(2) + previous.slice(previous.length - tail);
    return previous;
  });
}

async function packJson(urls: string[]): Promise<string> {
  const json = JSON.stringify(urls);
  const deflated = await transform(new TextEncoder().encode(json), new CompressionStream("deflate-raw"));
  const packed = `z:${toBase64(deflated)}`;
  return packed.length < json.length ? packed : json;
}

async function inflate(base64: string): Promise<string> {
  return new TextDecoder().decode(await transform(fromBase64(base64), new DecompressionStream("deflate-raw")));
}

async function transform(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
