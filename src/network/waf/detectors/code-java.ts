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
const isB64 = (c: number): boolean =>
  isDigit(c) || isLower(c) || isUpper(c) || c === 43 || c === 47 || c === 45 || c === 95;
const isIdent = (c: number): boolean => isLower(c) || isDigit(c) || c === 95 || isUpper(c);

/** Bytes of base64 runs examined per value. */
const MAX_B64 = 16 * 1024;
/** Shortest run worth decoding: 6 chars carry 4 bytes, the stream header. */
const MIN_RUN = 6;

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

/** Decodes a run of base64 chars with `pad` filler chars in front, as lowercased Latin-1. */
function decodeShifted(run: string, pad: number): string {
  const text = "AAA".slice(0, pad) + run.replaceAll("-", "+").replaceAll("_", "/");
  return Buffer.from(text, "base64").toString("latin1");
}

/** What the base64 runs of a raw (case-preserving) value carry. */
export function base64Java(raw: string): Base64Finding {
  const found: Base64Finding = { stream: false, className: false };
  let budget = MAX_B64;
  for (let i = 0; i < raw.length && budget > 0;) {
    if (!isB64(raw.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    let upper = false;
    let lower = false;
    while (j < raw.length && isB64(raw.charCodeAt(j))) {
      const c = raw.charCodeAt(j);
      if (isUpper(c) || isDigit(c)) upper = true;
      else if (isLower(c)) lower = true;
      j++;
    }
    // Encoded bytes mix cases and digits; a word in one case is text, not base64.
    if (j - i >= MIN_RUN && upper && lower) {
      const run = raw.slice(i, Math.min(j, i + budget));
      budget -= run.length;
      for (let pad = 0; pad < 4; pad++) {
        const bytes = decodeShifted(run, pad);
        if (!found.stream && bytes.includes("\xac\xed\x00\x05")) found.stream = true;
        if (!found.className) {
          const text = bytes.toLowerCase();
          if (B64_CLASSES.some((k) => text.includes(k))) found.className = true;
        }
        if (found.stream && found.className) return found;
      }
    }
    i = j;
  }
  return found;
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
