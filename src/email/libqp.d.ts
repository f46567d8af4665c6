/** libqp ships no types: the two functions used here. */
declare module "libqp" {
  /** Quoted-printable encoding of the bytes (a string is taken as UTF-8), without soft line breaks. */
  export function encode(input: Uint8Array | string): string;
  /** Inserts soft line breaks (`=` CRLF) so that no line is longer than `lineLength` (76). */
  export function wrap(encoded: string, lineLength?: number): string;
}
