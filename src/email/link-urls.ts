/**
 * The URLs of an e-mail's links (clicks and the next page, in the order of their keys' positions), kept once in the
 * e-mail's `link_urls` column instead of a row per link. Ten URLs of one shop share most of their text, so the JSON
 * is stored deflated (`z:` + base64) when that is shorter, as plain JSON otherwise.
 */

export async function packLinkUrls(urls: string[]): Promise<string | null> {
  if (urls.length === 0) return null;
  const json = JSON.stringify(urls);
  const deflated = await transform(new TextEncoder().encode(json), new CompressionStream("deflate-raw"));
  const packed = `z:${toBase64(deflated)}`;
  return packed.length < json.length ? packed : json;
}

export async function unpackLinkUrls(stored: string | null): Promise<string[]> {
  if (!stored) return [];
  if (!stored.startsWith("z:")) return JSON.parse(stored) as string[];
  const inflated = await transform(fromBase64(stored.slice(2)), new DecompressionStream("deflate-raw"));
  return JSON.parse(new TextDecoder().decode(inflated)) as string[];
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
