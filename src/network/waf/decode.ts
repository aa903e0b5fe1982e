// Decoders that undo the encodings attackers use to hide payloads from pattern matchers.
// Every function is pure, linear in its input (plain char loops, no regular expressions) and
// never returns a string much longer than its input, so hostile values cannot make inspection slow.

const HEX = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;

/** Reads `n` hex digits at `i`, or -1 if any is missing. */
function hexAt(s: string, i: number, n: number): number {
  if (i + n > s.length) return -1;
  let v = 0;
  for (let k = 0; k < n; k++) {
    const h = HEX(s.charCodeAt(i + k));
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

function fromCodePoint(cp: number): string {
  return cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? "\ufffd" : String.fromCodePoint(cp);
}

/**
 * Decodes percent-encoded bytes as lenient UTF-8: overlong forms are accepted on purpose
 * (`%c0%af` is `/` to a careless server), and bytes that form no sequence stay as Latin-1 chars.
 */
function decodeBytes(bytes: number[]): string {
  let out = "";
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i]!;
    const len = b >= 0xc0 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf8 ? 4 : 1;
    let cp = len === 2 ? b & 0x1f : len === 3 ? b & 0x0f : b & 0x07;
    let ok = len > 1 && i + len <= bytes.length;
    for (let k = 1; ok && k < len; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3f);
    }
    if (ok) {
      out += fromCodePoint(cp);
      i += len;
    } else {
      out += String.fromCharCode(b);
      i++;
    }
  }
  return out;
}

/** One pass of URL decoding: `%XX` (as lenient UTF-8), IIS-style `%uXXXX`, and `+` as space if asked. */
export function urlDecode(s: string, plusAsSpace = false): string {
  if (s.indexOf("%") < 0 && !(plusAsSpace && s.indexOf("+") >= 0)) return s;
  let out = "";
  let bytes: number[] = [];
  const flush = (): string => {
    if (bytes.length === 0) return "";
    const text = decodeBytes(bytes);
    bytes = [];
    return text;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 37 /* % */) {
      const h = hexAt(s, i + 1, 2);
      if (h >= 0) {
        // An ASCII byte is never part of a UTF-8 sequence, so it ends the pending run.
        if (h < 0x80) out += flush() + String.fromCharCode(h);
        else bytes.push(h);
        i += 2;
        continue;
      }
      const next = s.charCodeAt(i + 1);
      const u = next === 117 || next === 85 ? hexAt(s, i + 2, 4) : -1;
      if (u >= 0) {
        out += flush() + String.fromCharCode(u);
        i += 5;
        continue;
      }
    }
    out += flush();
    if (plusAsSpace && c === 43) {
      out += " ";
      continue;
    }
    // This char and the run up to the next `%` (or `+`), copied in one piece.
    let j = i + 1;
    for (; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 37 || (plusAsSpace && d === 43)) break;
    }
    out += s.slice(i, j);
    i = j - 1;
  }
  return out + flush();
}

// Named entities worth knowing: the ones that spell markup, script and paths. Unknown names stay.
// prettier-ignore
const ENTITIES: Record<string, string> = {
  lt: "<", gt: ">", amp: "&", quot: '"', apos: "'", nbsp: "\u00a0", colon: ":", semi: ";",
  sol: "/", bsol: "\\", lpar: "(", rpar: ")", comma: ",", period: ".", excl: "!", num: "#",
  dollar: "$", percnt: "%", equals: "=", plus: "+", ast: "*", quest: "?", commat: "@", lsqb: "[",
  rsqb: "]", lbrack: "[", rbrack: "]", lcub: "{", rcub: "}", lbrace: "{", rbrace: "}", vert: "|",
  verbar: "|", grave: "`", Hat: "^", lowbar: "_", hyphen: "-", dash: "-", Tab: "\t", NewLine: "\n",
  tab: "\t", newline: "\n",
};
// Browsers also decode these without a trailing `;` (HTML's legacy entities).
const LEGACY = ["amp", "lt", "gt", "quot", "nbsp", "AMP", "LT", "GT", "QUOT"];

/** Decodes HTML entities: named, `&#60`, `&#x3c`, with or without `;`, any leading zeros. */
export function htmlDecode(s: string): string {
  let out = "";
  let copied = 0; // s[copied, i) is yet to be copied to `out`; 0 while nothing was decoded
  for (let i = s.indexOf("&"); i >= 0; i = s.indexOf("&", i + 1)) {
    let j = i + 1;
    if (s.charCodeAt(j) === 35 /* # */) {
      const hex = s.charCodeAt(j + 1) === 120 || s.charCodeAt(j + 1) === 88;
      j += hex ? 2 : 1;
      const start = j;
      let cp = 0;
      for (; j < s.length; j++) {
        const c = s.charCodeAt(j);
        const d = hex ? HEX(c) : c >= 48 && c <= 57 ? c - 48 : -1;
        if (d < 0) break;
        if (cp <= 0x10ffff) cp = cp * (hex ? 16 : 10) + d; // stop growing once out of range
      }
      if (j === start) continue; // a literal `&`
      out += s.slice(copied, i) + fromCodePoint(cp === 0 ? 0xfffd : cp);
      i = s.charCodeAt(j) === 59 ? j : j - 1;
      copied = i + 1;
      continue;
    }
    for (; j < s.length && j - i <= 10; j++) {
      const c = s.charCodeAt(j);
      if (!((c >= 65 && c <= 90) || (c >= 97 && c <= 122))) break;
    }
    if (j === i + 1) continue; // no name: a literal `&`
    const name = s.slice(i + 1, j);
    // hasOwn: `&toString;` must not find Object.prototype.toString.
    const named = s.charCodeAt(j) === 59 && Object.hasOwn(ENTITIES, name) ? ENTITIES[name] : undefined;
    if (named !== undefined) {
      out += s.slice(copied, i) + named;
      i = j;
      copied = i + 1;
      continue;
    }
    let legacy: string | undefined;
    for (const l of LEGACY) if (legacy === undefined && name.startsWith(l)) legacy = l;
    if (legacy !== undefined) {
      out += s.slice(copied, i) + ENTITIES[legacy.toLowerCase()]!;
      i += legacy.length;
      copied = i + 1;
    }
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** Decodes JavaScript (`\x41`, `\u0041`, `\u{41}`) and CSS (`\41 `, `\s`) escapes. */
export function jsDecode(s: string): string {
  if (s.indexOf("\\") < 0) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 92 /* \ */) {
      const bs = s.indexOf("\\", i);
      const end = bs < 0 ? s.length : bs;
      out += s.slice(i, end); // the run up to the next backslash
      i = end - 1;
      continue;
    }
    if (i + 1 >= s.length) {
      out += "\\"; // a trailing backslash stays
      continue;
    }
    const n = s.charCodeAt(i + 1);
    if (n === 120 /* x */) {
      const h = hexAt(s, i + 2, 2);
      if (h >= 0) {
        out += String.fromCharCode(h);
        i += 3;
        continue;
      }
    } else if (n === 117 /* u */) {
      if (s.charCodeAt(i + 2) === 123 /* { */) {
        let j = i + 3;
        let cp = 0;
        for (; j < s.length && j < i + 11 && HEX(s.charCodeAt(j)) >= 0; j++)
          cp = cp * 16 + HEX(s.charCodeAt(j));
        if (j > i + 3 && s.charCodeAt(j) === 125 /* } */) {
          out += fromCodePoint(cp);
          i = j;
          continue;
        }
      } else {
        const h = hexAt(s, i + 2, 4);
        if (h >= 0) {
          out += String.fromCharCode(h);
          i += 5;
          continue;
        }
      }
    } else if (HEX(n) >= 0) {
      // CSS: 1-6 hex digits, then one optional whitespace that belongs to the escape.
      let j = i + 1;
      let cp = 0;
      for (; j < s.length && j < i + 7 && HEX(s.charCodeAt(j)) >= 0; j++) cp = cp * 16 + HEX(s.charCodeAt(j));
      if (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9) j++;
      out += fromCodePoint(cp === 0 ? 0xfffd : cp);
      i = j - 1;
      continue;
    }
    // Any other escaped char stands for itself in both languages (`\s\r\i\p\t`).
    const nl = n === 10 || n === 13;
    out += nl ? "" : s[i + 1];
    i++;
  }
  return out;
}

function isBase64Char(c: number): boolean {
  return (
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    (c >= 48 && c <= 57) ||
    c === 43 ||
    c === 47 ||
    c === 45 ||
    c === 95
  );
}

/** Decodes `s` only if it is clearly base64 (long enough, base64 alphabet, mostly printable result); else null. */
export function base64Decode(s: string): string | null {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */) end--;
  if (end < 16 || s.length - end > 2 || end % 4 === 1) return null;
  let upper = 0;
  let lower = 0;
  let digit = 0;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isBase64Char(c)) return null;
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c >= 48 && c <= 57) digit++;
  }
  // Encoded text mixes cases; an identifier or a word in one case is not base64.
  if (upper === 0 || lower === 0 || upper + lower + digit < end * 0.8) return null;
  const text = Buffer.from(s.slice(0, end), "base64").toString("utf8");
  let printable = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c >= 32 && c < 127) || c === 9 || c === 10 || c === 13 || (c >= 160 && c !== 0xfffd)) printable++;
  }
  return printable >= text.length * 0.9 ? text : null;
}

/** Removes NUL bytes, which C-based back ends treat as the end of a string. */
export function removeNulls(s: string): string {
  return s.indexOf("\0") < 0 ? s : s.split("\0").join("");
}

/** Unicode compatibility normalisation (fullwidth `＜` is `<`), capped at twice the input's length. */
export function nfkc(s: string): string {
  let ascii = true;
  for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80;
  if (ascii) return s;
  // In chunks, so that a string of chars that each expand 18-fold stops early instead of
  // building a huge result first. Chunks end before a combining mark or a low surrogate.
  const cap = s.length * 2;
  let out = "";
  for (let i = 0; i < s.length && out.length < cap;) {
    let end = Math.min(i + 256, s.length);
    while (end < s.length && isContinuation(s.charCodeAt(end))) end++;
    out += s.slice(i, end).normalize("NFKC");
    i = end;
  }
  return out.length > cap ? out.slice(0, cap) : out;
}

const isContinuation = (c: number): boolean => (c >= 0x300 && c <= 0x36f) || (c >= 0xdc00 && c <= 0xdfff);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 0xa0;

/** Chars at `i` that sqlCompact rewrites: `/*`, `*\/`, `--`, `#` and whitespace. */
function sqlSpecial(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c === 47 || c === 42) return s.charCodeAt(i + 1) === 89 - c; // `/*` or `*/` (47 + 42 = 89)
  return (c === 45 && s.charCodeAt(i + 1) === 45) || c === 35 || isSpace(c);
}

/** SQL view: comments become one space (`/*!…*\/` keeps its body, as MySQL runs it), whitespace runs collapse. */
export function sqlCompact(s: string): string {
  let out = "";
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const n = s.charCodeAt(i + 1);
    if (c === 47 /* / */ && n === 42 /* * */) {
      if (s.charCodeAt(i + 2) === 33 /* ! */) {
        i += 2;
        while (i + 1 < s.length && s.charCodeAt(i + 1) >= 48 && s.charCodeAt(i + 1) <= 57) i++;
      } else {
        const close = s.indexOf("*/", i + 2);
        i = close < 0 ? s.length : close + 1;
      }
      space = out.length > 0;
    } else if (c === 42 && n === 47) {
      i++; // the end of a `/*!` comment
      space = out.length > 0;
    } else if ((c === 45 && n === 45) || c === 35 /* -- or # */) {
      const eol = s.indexOf("\n", i);
      i = eol < 0 ? s.length : eol;
      space = out.length > 0;
    } else if (isSpace(c)) space = out.length > 0;
    else {
      // A run of chars kept as they are, copied in one piece.
      let j = i + 1;
      while (j < s.length && !sqlSpecial(s, j)) j++;
      if (i === 0 && j === s.length) return s; // nothing to compact
      if (space) out += " ";
      out += s.slice(i, j);
      space = false;
      i = j - 1;
    }
  }
  return out;
}

/** Chars that shellCompact drops or rewrites, or that start an expansion: `$ ' " \ ^` and whitespace. */
const shellSpecial = (c: number): boolean =>
  c === 36 || c === 39 || c === 34 || c === 92 || c === 94 || isSpace(c);

/** Shell view: drops the quoting and empty expansions that split words (`c''at`, `c\at`, `c$@at`, `c^at`), `${IFS}` is a space. */
export function shellCompact(s: string): string {
  let out = "";
  let space = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 36 /* $ */) {
      // Any case: this view usually runs on the lowercased form.
      const ifs = s.slice(i, i + 6).toUpperCase();
      if (ifs === "${IFS}" || ifs.startsWith("$IFS")) {
        i += s[i + 1] === "{" ? 5 : 3;
        space = out.length > 0;
        continue;
      }
      const n = s.charCodeAt(i + 1);
      if (n === 64 || n === 42 || (n >= 48 && n <= 57)) {
        i++; // $@, $*, $1: empty in a fresh shell
        continue;
      }
    }
    if (c === 39 || c === 34 || c === 92 || c === 94 /* ' " \ ^ */) continue;
    if (isSpace(c)) {
      space = out.length > 0;
      continue;
    }
    // This char (a `$` that expands to nothing special included) and the run of plain ones after it.
    let j = i + 1;
    while (j < s.length && !shellSpecial(s.charCodeAt(j))) j++;
    if (i === 0 && j === s.length) return s; // nothing to drop
    if (space) out += " ";
    out += s.slice(i, j);
    space = false;
    i = j - 1;
  }
  return out;
}

export interface DecodeLimits {
  /** Rounds of URL + HTML + JS decoding; each round peels one layer of encoding. */
  maxPasses: number;
  /** Distinct forms returned per value, the raw value included. */
  maxVariants: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxPasses: 3, maxVariants: 10 };

/**
 * Peels URL, HTML and (unless `js` is false) JS encodings until nothing changes or the pass limit
 * is reached. Without JS decoding, backslashes survive (`c:\users`, `..\..\`).
 */
export function decodeLayers(s: string, maxPasses: number, js = true): string {
  let cur = s;
  for (let pass = 0; pass < maxPasses; pass++) {
    const web = htmlDecode(urlDecode(cur));
    const next = js ? jsDecode(web) : web;
    if (next === cur) break;
    cur = next;
  }
  return removeNulls(cur);
}

// Character classes for the fast path of `variants()` (ASCII only; anything else takes the full path).
const C_DECODE = 1; // `%` `&` `\` NUL: URL, HTML and JS decoding or NUL removal may change the value
const C_UPPER = 2; // A-Z: lowercasing changes them
const C_LOWER = 4; // a-z: base64 text mixes them with C_UPPER
const C_SQL = 8; // `#` and whitespace but the space: sqlCompact changes them
const C_SHELL = 16; // `$` `'` `"` `^` and whitespace but the space: shellCompact may change them
const C_PAIR = 32; // `/` `*` `-`: sqlCompact changes `/*`, `*/` and `--`
const C_NOT_B64 = 64; // neither base64 alphabet, `=` nor whitespace: base64Decode refuses the value
const C_NOT_PLAIN = 128; // outside the historical plain set (a-z 0-9 space . _ , :)
const C_SPACE = 256; // the space: both views drop it at either end and collapse repeats
const CLASS = new Uint16Array(128).fill(C_NOT_B64 | C_NOT_PLAIN);
for (let c = 97; c <= 122; c++) CLASS[c] = C_LOWER;
for (let c = 65; c <= 90; c++) CLASS[c] = C_UPPER | C_NOT_PLAIN;
for (let c = 48; c <= 57; c++) CLASS[c] = 0;
CLASS[95] = 0; // `_`: plain and base64url
CLASS[32] = C_SPACE;
for (const ch of ".,:") CLASS[ch.charCodeAt(0)] = C_NOT_B64;
for (const ch of "+=") CLASS[ch.charCodeAt(0)] = C_NOT_PLAIN;
for (const ch of "/-") CLASS[ch.charCodeAt(0)] = C_PAIR | C_NOT_PLAIN; // base64 and base64url
CLASS[42 /* * */] = C_PAIR | C_NOT_B64 | C_NOT_PLAIN;
CLASS[35 /* # */] = C_SQL | C_NOT_B64 | C_NOT_PLAIN;
for (let c = 9; c <= 13; c++) CLASS[c] = C_SQL | C_SHELL | C_NOT_PLAIN; // base64Decode trims these
for (const c of [0, 37, 38, 92] /* NUL % & \ */) CLASS[c] = C_DECODE | C_NOT_B64 | C_NOT_PLAIN;
for (const ch of "$'\"^") CLASS[ch.charCodeAt(0)] = C_SHELL | C_NOT_B64 | C_NOT_PLAIN;

/** Appends `v` unless it is there already or the list is full (a Set's `add`, for a few short strings). */
function addVariant(out: string[], v: string, max: number): void {
  if (out.length < max && !out.includes(v)) out.push(v);
}

/** The distinct forms of `value` a detector should see: raw first, then decoded, base64-decoded, canonical, SQL and shell views. */
export function variants(value: string, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): string[] {
  // One pass over the chars decides whether any decoding step can change the value. For ASCII
  // without `%`, `&`, `\` and NUL, decoding and NFKC are the identity, so the views are the value,
  // its lowercase form and the SQL and shell views of that, each computed only when a char that
  // step changes is present (lowercasing touches letters only, none of which those views look at).
  let flags = 0;
  const n = value.length;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) return fullVariants(value, limits);
    flags |= CLASS[c]!;
  }
  // Lowercase letters, digits, spaces and `._,:`: returned alone, as always.
  if ((flags & C_NOT_PLAIN) === 0) return [value];
  // Besides the chars CLASS flags, SQL comment marks and spaces at an end or repeated change a view.
  if (flags & C_PAIR && (value.includes("/*") || value.includes("*/") || value.includes("--")))
    flags |= C_SQL;
  if (
    flags & C_SPACE &&
    (value.charCodeAt(0) === 32 || value.charCodeAt(n - 1) === 32 || value.includes("  "))
  )
    flags |= C_SQL | C_SHELL;
  // Decoding may change the value, or it may be base64: 16+ chars of its alphabet, both cases, and
  // no space once trimmed (any space left is before the `=` padding, where base64Decode refuses it).
  if (
    flags & C_DECODE ||
    ((flags & C_NOT_B64) === 0 &&
      flags & C_UPPER &&
      flags & C_LOWER &&
      n >= 16 &&
      value.trim().indexOf(" ") < 0)
  )
    return fullVariants(value, limits);
  const lower = flags & C_UPPER ? value.toLowerCase() : value;
  const out = [value];
  const max = limits.maxVariants;
  addVariant(out, lower, max);
  addVariant(out, flags & C_SQL ? sqlCompact(lower) : lower, max);
  addVariant(out, flags & C_SHELL ? shellCompact(lower) : lower, max);
  return out;
}

const ESCAPED_BACKSLASH = /%5c/i;

/** `variants()` the long way: every decoding step, for values the fast path cannot rule out. */
function fullVariants(value: string, limits: DecodeLimits): string[] {
  const out = new Set<string>([value]);
  const add = (v: string): void => {
    if (out.size < limits.maxVariants) out.add(v);
  };
  const decoded = decodeLayers(value, limits.maxPasses);
  const bases = [decoded];
  // JS/CSS unescaping reads `\users` and `\default` as escapes: keep a form with backslashes.
  if (value.includes("\\") || ESCAPED_BACKSLASH.test(value))
    bases.push(decodeLayers(value, limits.maxPasses, false));
  const b64 = base64Decode(value.trim()) ?? (decoded !== value ? base64Decode(decoded.trim()) : null);
  if (b64 !== null) bases.push(decodeLayers(b64, limits.maxPasses));
  for (const base of bases) {
    add(base);
    const canonical = nfkc(base).toLowerCase();
    const c = canonical.length > base.length * 2 ? canonical.slice(0, base.length * 2) : canonical;
    add(c);
    add(sqlCompact(c));
    add(shellCompact(c));
  }
  return [...out];
}
