/**
 * HTTP Message Signatures (RFC 9421) with Ed25519, as MailChannels signs its webhooks: `Signature-Input` names the
 * covered components (at least `content-digest`), `created`, `alg` and `keyid`; `Signature` carries the signature;
 * `Content-Digest` (RFC 9530) is the body's SHA-256 or SHA-512. The body is read once, as bytes, and checked against
 * the digest before anything is parsed.
 */

export type SignatureCheck = { ok: true; keyId: string } | { ok: false; problem: string };

/** A signature older than this (or this far in the future) is refused: a replayed request. */
export const SIGNATURE_TOLERANCE_S = 5 * 60;

const encoder = new TextEncoder();

interface SignatureInput {
  label: string;
  components: string[];
  /** The inner list and its parameters, exactly as sent: the `@signature-params` line of the base. */
  params: string;
  created: number | null;
  alg: string | null;
  keyId: string | null;
}

/** Each `label=(...);params` member of a Signature-Input dictionary. */
export function parseSignatureInput(header: string): SignatureInput[] {
  const out: SignatureInput[] = [];
  for (const m of header.matchAll(
    /([a-z*][a-z0-9_.*-]*)=(\(([^)]*)\)((?:;[a-z*][a-z0-9_.*-]*=(?:"[^"]*"|[^;,\s]+))*))/g,
  )) {
    const [, label, params, inner, rest] = m as unknown as [string, string, string, string, string];
    const components = [...inner.matchAll(/"([^"]+)"/g)].map((c) => (c[1] as string).toLowerCase());
    const param = (name: string) => new RegExp(`;${name}=("([^"]*)"|[^;,\\s]+)`).exec(rest);
    const created = param("created");
    const alg = param("alg");
    const keyId = param("keyid");
    out.push({
      label,
      components,
      params,
      created: created ? Number(created[1]) : null,
      alg: alg ? (alg[2] ?? alg[1] ?? null) : null,
      keyId: keyId ? (keyId[2] ?? keyId[1] ?? null) : null,
    });
  }
  return out;
}

/** The `label=:base64:` members of a Signature dictionary. */
function parseSignatures(header: string): Map<string, string> {
  const matches = header.matchAll(/([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/=]*):/g);
  return new Map([...matches].map((m) => [m[1] as string, m[2] as string]));
}

/** Checks a request's signature against the configured public keys (key id -> base64 SPKI). */
export async function verifyMessageSignature(
  request: Request,
  body: Uint8Array,
  keys: Map<string, string>,
  now = Date.now(),
): Promise<SignatureCheck> {
  const inputHeader = request.headers.get("signature-input");
  const signatureHeader = request.headers.get("signature");
  const digestHeader = request.headers.get("content-digest");
  if (!inputHeader || !signatureHeader) return { ok: false, problem: "the request is not signed" };
  if (!digestHeader) return { ok: false, problem: "the request has no Content-Digest" };
  if (!(await digestMatches(digestHeader, body)))
    return { ok: false, problem: "the Content-Digest does not match the body" };
  const signatures = parseSignatures(signatureHeader);
  let problem = "no signature covers the content digest with a known key";
  for (const input of parseSignatureInput(inputHeader)) {
    const signature = signatures.get(input.label);
    if (!signature || !input.components.includes("content-digest")) continue;
    if (input.alg !== null && input.alg.toLowerCase() !== "ed25519") {
      problem = `signature algorithm "${input.alg}" is not ed25519`;
      continue;
    }
    const key = input.keyId === null ? undefined : keys.get(input.keyId);
    if (!key) {
      problem = `signing key "${input.keyId ?? ""}" is not configured`;
      continue;
    }
    if (input.created === null || !Number.isFinite(input.created)) {
      problem = "the signature has no creation time";
      continue;
    }
    if (Math.abs(now / 1000 - input.created) > SIGNATURE_TOLERANCE_S) {
      problem = "the signature is too old (or from the future): a replay?";
      continue;
    }
    const base = signatureBase(request, input);
    if (base === null) {
      problem = "the signature covers a component this service does not read";
      continue;
    }
    if (await ed25519Verify(key, signature, base)) return { ok: true, keyId: input.keyId as string };
    problem = "the signature does not verify";
  }
  return { ok: false, problem };
}

/** The RFC 9421 signature base: one line per covered component, then `@signature-params`. */
export function signatureBase(request: Request, input: Pick<SignatureInput, "components" | "params">): string | null {
  const url = new URL(request.url);
  const lines: string[] = [];
  for (const name of input.components) {
    let value: string | null;
    if (name === "@method") value = request.method.toUpperCase();
    else if (name === "@path") value = url.pathname;
    else if (name === "@authority") value = url.host.toLowerCase();
    else if (name === "@target-uri") value = url.href;
    else if (name === "@query") value = url.search || "?";
    else if (name.startsWith("@")) return null;
    else value = request.headers.get(name);
    if (value === null) return null;
    lines.push(`"${name}": ${value.trim()}`);
  }
  lines.push(`"@signature-params": ${input.params}`);
  return lines.join("\n");
}

async function digestMatches(header: string, body: Uint8Array): Promise<boolean> {
  for (const m of header.matchAll(/(sha-256|sha-512)=:([A-Za-z0-9+/=]+):/gi)) {
    const algorithm = (m[1] as string).toLowerCase() === "sha-256" ? "SHA-256" : "SHA-512";
    const digest = base64(new Uint8Array(await crypto.subtle.digest(algorithm, body)));
    if (digest === m[2]) return true;
  }
  return false;
}

async function ed25519Verify(spkiBase64: string, signatureBase64: string, base: string): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("spki", unbase64(spkiBase64), { name: "Ed25519" }, false, ["verify"]);
    return await crypto.subtle.verify({ name: "Ed25519" }, key, unbase64(signatureBase64), encoder.encode(base));
  } catch {
    return false;
  }
}

export function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function unbase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
