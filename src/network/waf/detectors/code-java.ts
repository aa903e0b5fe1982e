// Java exploit material that hides from code.ts's plain-text checks: serialised streams and the
// class names of process and gadget classes inside base64, and process classes reached through
// an unusual package path (`java.evil.Runtime`, a probe for loose class-name filters).
//
// Base64 is read at every alignment: a payload cut out of a larger stream starts anywhere within a
// 4-char group, so each run of base64 chars is decoded four times, with 0-3 filler chars in front;
// one of those lines the bits up with the original bytes. That finds Java's stream header
// (`AC ED 00 05`) and class names whichever byte they sat at. Work is linear in the value (four
// decodes of at most 16 KiB of runs); the keyword tables are our own.

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isIdent = (c: number): boolean => isLower(c) || isDigit(c) || c === 95 || isUpper(c);

/** Bytes of base64 runs examined per value. */
const MAX_B64 = 16 * 1024;
/** Shortest run worth decoding: 6 chars carry 4 bytes, the stream header. */
export const MIN_RUN = 6;

// Classes an exploit's serialised payload or expression names: process launchers and the gadget
// classes of the Commons Collections, Xalan and JDK chains (lowercase; decoded text is lowered).
// prettier-ignore
const B64_CLASSES = [
  "runtime", "processbuilder", "processimpl", "invokertransformer", "instantiatetransformer", "instantiatefactory",
  "clonetransformer", "chainedtransformer", "constanttransformer", "prototypeclonefactory",
  "prototypeserializationfactory", "forclosure", "whileclosure", "templatesimpl", "annotationinvocationhandler",
  "badattributevalueexpexception", "jdbcrowsetimpl", "scriptenginemanager", "urlclassloader",
];

export interface Base64Finding {
  /** Java's serialisation header, at any byte offset. */
  stream: boolean;
  /** A process or gadget class name. */
  className: boolean;
}

// Each base64 char's 6 bits (`-` and `_` as `+` and `/`, the URL-safe alphabet); -1 for others.
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++)
  B64_VALUE["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".charCodeAt(i)] = i;
B64_VALUE[45] = 62;
B64_VALUE[95] = 63;

/** Decode buffer, reused: a run is at most MAX_B64 chars, 3 filler chars in front. */
const BYTES = new Uint8Array(((MAX_B64 + 3) * 6) >> 3);
/** Shortest class name in B64_CLASSES: decoded text can name one only inside a letter run this long. */
const MIN_CLASS = Math.min(...B64_CLASSES.map((k) => k.length));
/** Base64 chars that carry MIN_CLASS bytes. */
export const MIN_CLASS_RUN = Math.ceil((MIN_CLASS * 8) / 6);

/**
 * Which chars can lie inside a run of letter bytes (`01xxxxxx`), by where the char starts in a
 * byte: bit 0 at offset 0 (its top bits are the byte's `01`: 16-31), bit 1 at offset 6 (its middle
 * bits are the next byte's `01`), bit 2 at offset 4 (its low bits are), bit 3 at offset 2 (any).
 */
const LETTER_ROLE = new Uint8Array(64);
for (let v = 0; v < 64; v++)
  LETTER_ROLE[v] = 8 | (v >> 4 === 1 ? 1 : 0) | (((v >> 2) & 3) === 1 ? 2 : 0) | ((v & 3) === 1 ? 4 : 0);
/**
 * Chars wholly inside MIN_CLASS bytes, wherever those start: at least this many (a byte starts at
 * an even bit, so the first whole char starts at most 4 bits in).
 */
const MIN_LETTER_CHARS = Math.floor((MIN_CLASS * 8 - 10) / 6) + 1;

/**
 * The filler counts (bit `pad`) at which `raw[start, end)` could decode to MIN_CLASS letter bytes
 * in a row: MIN_LETTER_CHARS chars in a row that fit their offsets. Char `k` of the run starts at
 * bit 6 * (pad + k), so at offset 0, 6, 4 or 2 of a byte as (pad + k) % 4 is 0, 1, 2 or 3.
 */
function lettersAlign(raw: string, start: number, end: number): number {
  let pads = 0;
  let in0 = 0;
  let in1 = 0;
  let in2 = 0;
  let in3 = 0;
  for (let i = start; i < end; i++) {
    const fits = LETTER_ROLE[B64_VALUE[raw.charCodeAt(i)]!]!;
    const k = i - start;
    in0 = ((fits >> (k & 3)) & 1) === 0 ? 0 : in0 + 1;
    in1 = ((fits >> ((k + 1) & 3)) & 1) === 0 ? 0 : in1 + 1;
    in2 = ((fits >> ((k + 2) & 3)) & 1) === 0 ? 0 : in2 + 1;
    in3 = ((fits >> ((k + 3) & 3)) & 1) === 0 ? 0 : in3 + 1;
    if (in0 >= MIN_LETTER_CHARS) pads |= 1;
    if (in1 >= MIN_LETTER_CHARS) pads |= 2;
    if (in2 >= MIN_LETTER_CHARS) pads |= 4;
    if (in3 >= MIN_LETTER_CHARS) pads |= 8;
  }
  return pads;
}

const isAsciiLetter = (b: number): boolean => (b >= 65 && b <= 90) || (b >= 97 && b <= 122);

/** Java's stream header `AC ED 00 05` as a signed 32-bit word, the last four decoded bytes. */
const STREAM_HEADER = 0xaced0005 | 0;
const FOUND_STREAM = 1;
/** A letter run long enough to hold a class name: BYTES then gets the exact check. */
const FOUND_LETTERS = 2;

/**
 * Decodes `raw[start, end)` (base64 chars only) with `pad` filler `A`s in front, as Node's decoder
 * does (trailing bits that fill no byte are dropped), watching the bytes as they come: the stream
 * header, and letter runs of MIN_CLASS bytes. With `keep`, the bytes go to BYTES; returns the
 * flags found, or with `keep` the byte count.
 */
function decodeShifted(raw: string, start: number, end: number, pad: number, keep: boolean): number {
  let acc = 0;
  let bits = pad * 6; // the fillers' zero bits
  let n = 0;
  while (bits >= 8) {
    if (keep) BYTES[n] = 0;
    n++;
    bits -= 8;
  }
  let last4 = 0;
  let letters = 0;
  let found = 0;
  for (let i = start; i < end; i++) {
    acc = ((acc << 6) | B64_VALUE[raw.charCodeAt(i)]!) & 0x3fff;
    bits += 6;
    if (bits < 8) continue;
    bits -= 8;
    const byte = (acc >> bits) & 0xff;
    if (keep) BYTES[n] = byte;
    n++;
    last4 = (last4 << 8) | byte;
    if (last4 === STREAM_HEADER) found |= FOUND_STREAM;
    if (!isAsciiLetter(byte)) letters = 0;
    else if (++letters >= MIN_CLASS) found |= FOUND_LETTERS;
  }
  return keep ? n : found;
}

/**
 * Whether BYTES[0, n), read as lowercased Latin-1, names a class of B64_CLASSES. The names are
 * ASCII letters, and only ASCII letters lowercase to those, so only letter runs of MIN_CLASS or
 * more bytes (rare in decoded binary) become text to search.
 */
function hasClassName(n: number): boolean {
  for (let i = 0; i < n;) {
    if (!isAsciiLetter(BYTES[i]!)) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && isAsciiLetter(BYTES[j]!)) j++;
    if (j - i >= MIN_CLASS) {
      const text = String.fromCharCode(...BYTES.subarray(i, j)).toLowerCase();
      if (B64_CLASSES.some((k) => text.includes(k))) return true;
    }
    i = j;
  }
  return false;
}

const NOTHING: Readonly<Base64Finding> = Object.freeze({ stream: false, className: false });

/** What the base64 runs of a raw (case-preserving) value carry. */
export function base64Java(raw: string): Readonly<Base64Finding> {
  let stream = false;
  let className = false;
  let budget = MAX_B64;
  for (let i = 0; i < raw.length && budget > 0;) {
    let j = i;
    let upper = false;
    let lower = false;
    let zero = false; // an `A`
    for (; j < raw.length; j++) {
      const c = raw.charCodeAt(j);
      const v = c < 128 ? B64_VALUE[c]! : -1;
      if (v < 0) break;
      if (v < 26 || (v >= 52 && v < 62))
        upper = true; // A-Z, 0-9
      else if (v < 52) lower = true; // a-z
      if (v === 0) zero = true;
    }
    // Encoded bytes mix cases and digits; a word in one case is text, not base64. The stream
    // header's `00` byte holds a whole char's 6 zero bits, an `A`, at any alignment; the letters
    // of a class name take 56 bits, 10 chars (bytes holding filler bits are below 64, no letter).
    if (j - i >= MIN_RUN && upper && lower && (zero || j - i >= MIN_CLASS_RUN)) {
      const end = Math.min(j, i + budget);
      budget -= end - i;
      const pads = lettersAlign(raw, i, end);
      for (let pad = 0; pad < 4; pad++) {
        if (!zero && (pads & (1 << pad)) === 0) continue;
        const found = decodeShifted(raw, i, end, pad, false);
        if ((found & FOUND_STREAM) !== 0) stream = true;
        if (
          !className &&
          (found & FOUND_LETTERS) !== 0 &&
          hasClassName(decodeShifted(raw, i, end, pad, true))
        )
          className = true;
        if (stream && className) return { stream, className };
      }
    }
    i = j + 1;
  }
  return stream || className ? { stream, className } : NOTHING;
}

// Classes that launch processes or load code, named at the end of a package path.
const PROCESS_CLASSES = ["runtime", "processbuilder", "processimpl", "unixprocess", "scriptenginemanager"];

/**
 * `java.evil.Runtime`, `javax.foo.ProcessBuilder`: a `java`/`javax` package path ending in a
 * process class, whatever the packages between (`java.lang.` itself is code.ts's PL1 rule).
 * The `java.runtime.version` property has more segments after `runtime` and does not count.
 */
export function javaProcessPath(c: string): boolean {
  for (let i = c.indexOf("java"); i >= 0; i = c.indexOf("java", i + 4)) {
    if (i > 0 && (isIdent(c.charCodeAt(i - 1)) || c.charCodeAt(i - 1) === 46)) continue;
    let k = i + 4;
    if (c.charCodeAt(k) === 120) k++; // javax
    if (c.charCodeAt(k) !== 46) continue;
    const start = k + 1;
    const stop = Math.min(c.length, start + 160);
    while (k < stop && (isIdent(c.charCodeAt(k)) || c.charCodeAt(k) === 46 || c.charCodeAt(k) === 36)) k++;
    const segments = c.slice(start, k).split(".");
    if (segments.length < 2) continue;
    for (let s = 1; s < segments.length; s++) {
      const seg = segments[s]!;
      if (!PROCESS_CLASSES.includes(seg)) continue;
      const next = segments[s + 1];
      if (next === undefined || next === "" || next.startsWith("getruntime") || next.startsWith("exec"))
        return true;
      if (seg === "processbuilder") return true;
    }
  }
  return false;
}
