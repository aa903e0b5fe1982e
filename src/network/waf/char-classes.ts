// Which kinds of character a value holds, as two bit sets, so that the engine can skip a detector
// whose every rule needs a character the value lacks (most values are words and digits).

/** Bits 0-31: the 32 ASCII punctuation characters. */
const PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/** Bits of the second set. */
const SPACE = 1;
const NEWLINE = 2;
const CONTROL = 4;
const NON_ASCII = 8;
const DIGIT = 16;

const PUNCT_BIT = new Int32Array(128);
for (let i = 0; i < PUNCT.length; i++) PUNCT_BIT[PUNCT.charCodeAt(i)] = 1 << i;

export interface CharClasses {
  punct: number;
  other: number;
}

export function charClasses(value: string): CharClasses {
  let punct = 0;
  let other = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) other |= NON_ASCII;
    else if (PUNCT_BIT[c]) punct |= PUNCT_BIT[c];
    else if (c >= 48 && c <= 57) other |= DIGIT;
    else if (c === 32 || c === 9) other |= SPACE;
    else if (c === 10 || c === 13) other |= NEWLINE;
    else if (c < 32 || c === 127) other |= CONTROL;
  }
  return { punct, other };
}

/** The classes a detector's `triggers` string names (see Detector.triggers). */
export function triggerClasses(triggers: string): CharClasses {
  let punct = 0;
  let other = 0;
  for (const ch of triggers) {
    const c = ch.charCodeAt(0);
    if (c < 128 && PUNCT_BIT[c]) punct |= PUNCT_BIT[c];
    else if (ch === " ") other |= SPACE;
    else if (ch === "\n") other |= NEWLINE;
    else if (ch === "\0") other |= CONTROL;
    else if (ch === "\u0080") other |= NON_ASCII;
    else if (ch === "0") other |= DIGIT;
    else throw new Error(`detector trigger '${ch}' is not punctuation, " ", "\\n", "\\0", "\\u0080" or "0"`);
  }
  return { punct, other };
}

export const meets = (value: CharClasses, trigger: CharClasses): boolean =>
  (value.punct & trigger.punct) !== 0 || (value.other & trigger.other) !== 0;
