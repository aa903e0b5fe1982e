// One pass over a value that says which of a few trigger characters it holds, for the engine to
// skip the detectors that need one of them (see `Detector.needs`): most values hold none of
// `<`, `$`, `(`, `{`, a line break, …, and a bit test is cheaper than a call that finds nothing.

export const CHAR_LT = 1; // `<`
export const CHAR_PLUS = 1 << 1; // `+` (UTF-7's `+ADw`)
export const CHAR_DOLLAR = 1 << 2;
export const CHAR_LPAREN = 1 << 3;
export const CHAR_RPAREN = 1 << 4;
export const CHAR_COLON = 1 << 5;
export const CHAR_SEMICOLON = 1 << 6;
export const CHAR_PIPE = 1 << 7;
export const CHAR_AMPERSAND = 1 << 8;
export const CHAR_UNDERSCORE = 1 << 9;
export const CHAR_LBRACE = 1 << 10;
export const CHAR_QUOTE = 1 << 11; // `'`
export const CHAR_DQUOTE = 1 << 12; // `"`
export const CHAR_LBRACKET = 1 << 13;
export const CHAR_BREAK = 1 << 14; // `\n` or `\r`
export const CHAR_BACKSLASH = 1 << 15;
export const CHAR_SLASH = 1 << 16;
export const CHAR_NON_ASCII = 1 << 17; // any char past U+007F
export const CHAR_DOT = 1 << 18;
export const CHAR_DASH = 1 << 19;
export const CHAR_LOWER_W = 1 << 20; // `w` (scanner markers: `wvs`, `vulnweb`, `wv`)
/** Every bit: what a value gets when it is not scanned (the detectors then all run). */
export const CHAR_ALL = (1 << 21) - 1;

const TABLE = new Uint32Array(128);
const set = (chars: string, bit: number): void => {
  for (const ch of chars) TABLE[ch.charCodeAt(0)]! |= bit;
};
set("<", CHAR_LT);
set("+", CHAR_PLUS);
set("$", CHAR_DOLLAR);
set("(", CHAR_LPAREN);
set(")", CHAR_RPAREN);
set(":", CHAR_COLON);
set(";", CHAR_SEMICOLON);
set("|", CHAR_PIPE);
set("&", CHAR_AMPERSAND);
set("_", CHAR_UNDERSCORE);
set("{", CHAR_LBRACE);
set("'", CHAR_QUOTE);
set('"', CHAR_DQUOTE);
set("[", CHAR_LBRACKET);
set("\n\r", CHAR_BREAK);
set("\\", CHAR_BACKSLASH);
set("/", CHAR_SLASH);
set(".", CHAR_DOT);
set("-", CHAR_DASH);
set("w", CHAR_LOWER_W);

/** The CHAR_* bits of the characters `value` holds. */
export function charBits(value: string): number {
  let bits = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    bits |= c < 128 ? TABLE[c]! : CHAR_NON_ASCII;
  }
  return bits;
}
