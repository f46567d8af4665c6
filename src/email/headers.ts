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

/** Text a decoder would take for an RFC 2047 encoded word (`=?charset?B?…?=`), even inside a quoted name. */
const LOOKS_ENCODED = /=\?[^?\s]*\?[bq]\?[^?\s]*\?=/i;
/** Line breaks and tabs: shown as one space. */
const BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;
/**
 * Characters a reader cannot see but that change what is shown: C0 and C1 controls, DEL, bidirectional overrides and
 * isolates, zero-width spaces and joiners, word joiners, invisible operators, the byte-order mark, soft hyphens, and
 * Unicode tags. Each becomes U+FFFD, so the reader sees that something was there. A zero-width joiner right after an
 * emoji is kept: it builds emoji sequences (👩‍💻).
 */
const INVISIBLE_CHAR =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must go
  /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/u;
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Emoji_Modifier}|\ufe0f)$/u;

/**
 * A header text as the reader should see it: line breaks and tabs as a space, invisible and control characters as
 * U+FFFD (a zero-width joiner inside an emoji sequence stays).
 */
export function visibleHeaderText(text: string): string {
  let out = "";
  let previous = "";
  for (const ch of text.replace(BREAKS, " ")) {
    if (ch === "\u200d" && EMOJI.test(previous)) out += ch;
    else out += INVISIBLE_CHAR.test(ch) ? "\ufffd" : ch;
    previous = ch;
  }
  return out;
}

/** `"Michael Scott" <michael@example.com>`, or the bare address when there is no name: for the archive and the API. */
export function displayAddress(a: Address): string {
  return a.name ? `${quoted(a.name)} <${a.address}>` : a.address;
}

/** A mailbox as a header value: the name as a quoted string when it is short printable ASCII, else encoded words. */
export function encodeMailbox(a: Address): string {
  if (!a.name) return a.address;
  const text = visibleHeaderText(a.name);
  const plain = PRINTABLE_ASCII.test(text) && text.length <= QUOTED_NAME_MAX && !LOOKS_ENCODED.test(text);
  const name = plain ? quoted(text) : encodeWords(text);
  const lastLine = name.slice(name.lastIndexOf("\n") + 1).length + (name.includes("\n") ? 0 : MAILBOX_HEADER);
  // Fold before the address rather than run past 78 columns.
  return `${name}${lastLine + a.address.length + 3 > LINE ? "\r\n " : " "}<${a.address}>`;
}

/**
 * An unstructured header value (Subject), folded at spaces to stay under 78 columns; encoded words when not ASCII, and
 * when the text itself looks like an encoded word, so that the reader sees `=?UTF-8?B?…?=` as typed, not decoded.
 */
export function encodeUnstructured(headerName: string, text: string): string {
  const value = visibleHeaderText(text);
  const words = value.split(" ");
  if (!PRINTABLE_ASCII.test(value) || LOOKS_ENCODED.test(value) || words.some((w) => w.length > LONGEST_WORD)) {
    return encodeWords(value);
  }
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
