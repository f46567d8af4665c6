import type { Address } from "../env";

/** Header encoding: plain text where it is plain ASCII (spam filters score needless encoding), RFC 2047 otherwise. */

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** RFC 5322: lines SHOULD stay under 78 characters and MUST stay under 998. */
const LINE = 78;
const LONGEST_WORD = 900;
/**
 * UTF-8 bytes an encoded word carries: base64 of 39 bytes is 52 characters, 64 with `=?UTF-8?B?` and `?=` (RFC 2047
 * allows 75), so a word fits on a line after `Reply-To: ` or `Subject: `.
 */
const WORD_BYTES = 39;
/** The longest header name that holds a mailbox here (`Reply-To: `). */
const MAILBOX_HEADER = 10;
const QUOTED_NAME_MAX = 60;

const utf8 = new TextEncoder();

/** `"Michael Scott" <michael@example.com>`, or the bare address when there is no name: for the archive and the API. */
export function displayAddress(a: Address): string {
  return a.name ? `${quoted(a.name)} <${a.address}>` : a.address;
}

/** A mailbox as a header value: the name as a quoted string when it is short printable ASCII, else encoded words. */
export function encodeMailbox(a: Address): string {
  if (!a.name) return a.address;
  const plain = PRINTABLE_ASCII.test(a.name) && a.name.length <= QUOTED_NAME_MAX;
  const name = plain ? quoted(a.name) : encodeWords(a.name);
  const lastLine = name.slice(name.lastIndexOf("\n") + 1).length + (name.includes("\n") ? 0 : MAILBOX_HEADER);
  // Fold before the address rather than run past 78 columns.
  return `${name}${lastLine + a.address.length + 3 > LINE ? "\r\n " : " "}<${a.address}>`;
}

/** An unstructured header value (Subject), folded at spaces to stay under 78 columns; encoded words when not ASCII. */
export function encodeUnstructured(headerName: string, value: string): string {
  const words = value.split(" ");
  if (!PRINTABLE_ASCII.test(value) || words.some((w) => w.length > LONGEST_WORD)) return encodeWords(value);
  let out = "";
  let column = headerName.length + 2;
  words.forEach((word, i) => {
    if (i === 0) {
      out = word;
      column += word.length;
    } else if (column + 1 + word.length > LINE && word.length > 0) {
      out += `\r\n ${word}`;
      column = 1 + word.length;
    } else {
      out += ` ${word}`;
      column += 1 + word.length;
    }
  });
  return out;
}

/** RFC 2047 B-encoded words of at most 75 characters, one a line, never splitting a character. */
export function encodeWords(text: string): string {
  const words: string[] = [];
  let chunk = "";
  let bytes = 0;
  for (const ch of text) {
    const size = utf8.encode(ch).length;
    if (bytes + size > WORD_BYTES && chunk) {
      words.push(encodedWord(chunk));
      chunk = "";
      bytes = 0;
    }
    chunk += ch;
    bytes += size;
  }
  if (chunk || words.length === 0) words.push(encodedWord(chunk));
  return words.join("\r\n ");
}

function encodedWord(text: string): string {
  let binary = "";
  for (const b of utf8.encode(text)) binary += String.fromCharCode(b);
  return `=?UTF-8?B?${btoa(binary)}?=`;
}

function quoted(name: string): string {
  return `"${name.replace(/[\\"]/g, "\\$&")}"`;
}

/** RFC 5322 date: `Fri, 27 Nov 2026 14:00:00 +0000`. */
export function rfc5322Date(ms: number): string {
  return new Date(ms).toUTCString().replace("GMT", "+0000");
}
