// XPath injection: input spliced into an XPath expression such as `//user[name='INPUT']`. The
// attacker closes the string literal and adds a boolean clause or a union (`' or name()='x`,
// `'] | //* | //*['`), then reads the document blind, one comparison at a time, with the node
// functions only XPath has (`count(/*)`, `name(/*[1])`, `string-length(name(/*[1]))`,
// `substring(name(parent::*),1,1)`) and its axes (`ancestor::*`, `descendant-or-self::node()`).
// `' or '1'='1` alone is SQL as much as XPath and belongs to the SQL detector; here a break-out
// counts only with XPath's own vocabulary after it. Function names such as `count`, `name` and
// `contains` are also JavaScript, SQL and prose, so a call counts only with an XPath argument: a
// location path, an axis, the context node, or nothing at all (`name()`, `text()`, `true()`). The
// engine feeds decoded variants, the lowercased one among them, so the tables are lowercase.
// Scanning is index/char loops with bounded look-ahead: linear in the value. Rules are our own.
import { CHAR_COLON, CHAR_DQUOTE, CHAR_LBRACKET, CHAR_LPAREN, CHAR_QUOTE } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId = "xpath-function-path" | "xpath-axis" | "xpath-boolean-breakout" | "xpath-path-predicate";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: an XPath function applied to a location path or axis, an axis step with a node test, and a
 * string break-out followed by XPath functions or paths. PL2: an absolute path with a predicate or
 * node test (`//user[@id=1]`, `/*[1]`, `//x/text()`), which an XML tool's own form may carry.
 */
export const XPATH_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "xpath-function-path": { paranoia: 1, severity: "critical", tags: ["attack-xpath", "blind-probe"] },
  "xpath-axis": { paranoia: 1, severity: "critical", tags: ["attack-xpath", "axis"] },
  "xpath-boolean-breakout": { paranoia: 1, severity: "critical", tags: ["attack-xpath", "breakout"] },
  "xpath-path-predicate": { paranoia: 2, severity: "warning", tags: ["attack-xpath", "path-expression"] },
};

/** XPath 1.0 and 2.0 functions (core library, node set, string, boolean, number, document access). */
const FUNCTIONS = words(
  "last position count id local-name namespace-uri name string concat starts-with ends-with contains " +
    "substring-before substring-after substring string-length normalize-space translate boolean not " +
    "true false lang number sum floor ceiling round doc doc-available document unparsed-text " +
    "lower-case upper-case string-join codepoints-to-string string-to-codepoints exists empty data " +
    "root base-uri document-uri text node comment processing-instruction",
);
/** Functions that read the context node: a bare call (`name()`, `text()`) is XPath, not prose. */
const CONTEXT_FUNCTIONS = words(
  "last position name local-name namespace-uri string string-length normalize-space true false " +
    "text node comment number",
);
/** Axes only XPath names; `self::` and `parent::` are also PHP, so they need a node test after them. */
const AXES = words(
  "ancestor ancestor-or-self attribute child descendant descendant-or-self following " +
    "following-sibling namespace parent preceding preceding-sibling self",
);
const NODE_TESTS = words("node text comment processing-instruction");
/** Functions that JavaScript also calls on a regex literal (`Number(/\d+/.exec(s))`): they need `/*`, `//x` or `/@x`. */
const WEAK_PATH_FUNCTIONS = words(
  "number string boolean sum round floor ceiling not exists empty data root id lang",
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isNameChar = (c: number): boolean =>
  isLower(c) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95;
/** Before a function name: not part of a longer name, not a method (`.text(`), variable or scope (`$x`, `a::`). */
const startsName = (v: string, i: number): boolean => {
  if (i === 0) return true;
  const p = v.charCodeAt(i - 1);
  return !isNameChar(p) && p !== 46 && p !== 36 && p !== 58 && p !== 62;
};

/** How far a break-out's tail is read for XPath vocabulary. */
const WINDOW = 96;

function skipSpace(v: string, j: number): number {
  while (j < v.length && isSpace(v.charCodeAt(j))) j++;
  return j;
}

/** The lowercase name starting at `i` (letters, digits, `-`, `_`), capped at 40 chars. */
function nameAt(v: string, i: number): string {
  let j = i;
  while (j < v.length && j - i < 40 && isNameChar(v.charCodeAt(j))) j++;
  return v.slice(i, j).toLowerCase();
}

/** Whether an axis step `axis::test` starts at `i` (the test: `*`, a node test, or a name then `[` or `/`). */
function axisAt(v: string, i: number, strict: boolean): boolean {
  const name = nameAt(v, i);
  if (!AXES.has(name) || !v.startsWith("::", i + name.length)) return false;
  let j = skipSpace(v, i + name.length + 2);
  if (v.charCodeAt(j) === 42 /* * */) return true;
  const test = nameAt(v, j);
  if (test.length === 0) return false;
  j = skipSpace(v, j + test.length);
  const c = v.charCodeAt(j);
  if (NODE_TESTS.has(test) && c === 40) return true;
  // Hyphenated axes exist nowhere else; for the rest, `Class::method(` must not count.
  if (!strict && name.includes("-")) return c !== 40;
  return c === 91 /* [ */ || c === 47; /* / */
}

const isNameStart = (c: number): boolean => isLower(c) || (c >= 65 && c <= 90) || c === 95;

/**
 * Whether a location path starts at `i`: `/*`, `//x`, `/@x`, `/x` (unless `strong`), `..`, `.`
 * before `)`, `/`, `[` or `,`, `*[`, `@*`, a compared `@name`, or an axis step. A JavaScript regex literal
 * (`/^a\/b/`, `// comment`) is none of these: its first char after the slash is not a name, or
 * an escape follows.
 */
function pathAt(v: string, i: number, strong = false): boolean {
  const c = v.charCodeAt(i);
  const n = v.charCodeAt(i + 1);
  if (c === 47 /* / */) {
    if (n === 42 || n === 64) return true;
    if (n === 47) {
      const m = v.charCodeAt(i + 2);
      return m === 42 || m === 64 || isNameStart(m);
    }
    if (strong || !isNameStart(n)) return false;
    // `/users/user`: names and slashes up to the end of the step, no regex escapes.
    let j = i + 1;
    while (j < v.length && j - i < 40 && (isNameChar(v.charCodeAt(j)) || v.charCodeAt(j) === 47)) j++;
    const e = v.charCodeAt(j);
    return j >= v.length || e === 41 || e === 91 || e === 44 || e === 61 || isSpace(e);
  }
  if (c === 46 /* . */) {
    // `.` and `..` as steps; `...` is prose's ellipsis or a spread.
    const m = n === 46 ? v.charCodeAt(i + 2) : n;
    return m === 41 || m === 47 || m === 91 || (n !== 46 && m === 44);
  }
  if (c === 42 /* * */) return n === 91 || n === 47;
  if (c === 64 /* @ */) {
    if (n === 42) return true;
    // `@id` compared or closed (`@id='1'`, `@id)`), not a JSDoc tag or a mention (`@returns {`).
    const name = nameAt(v, i + 1);
    if (name.length === 0 || !isNameStart(n)) return false;
    const e = v.charCodeAt(skipSpace(v, i + 1 + name.length));
    return e === 61 || e === 33 || e === 41 || e === 93 || e === 44 || e === 60 || e === 62;
  }
  return axisAt(v, i, true);
}

/**
 * Whether an XPath function call starts at `i` with an XPath argument: a path, an axis, another
 * such call; unless `needPath`, also nothing (for context functions), a string (for `doc`), or
 * anything at all for hyphenated names, which are a minus sign everywhere else. `depth` bounds the
 * nested calls followed.
 */
function callAt(v: string, i: number, depth: number, needPath: boolean): boolean {
  if (!startsName(v, i)) return false;
  const name = nameAt(v, i);
  if (!FUNCTIONS.has(name)) return false;
  let j = skipSpace(v, i + name.length);
  if (v.charCodeAt(j) !== 40 /* ( */) return false;
  j = skipSpace(v, j + 1);
  if (pathAt(v, j, WEAK_PATH_FUNCTIONS.has(name))) return true;
  if (needPath) return depth > 0 && isLower(v.charCodeAt(j)) && callAt(v, j, depth - 1, true);
  const c = v.charCodeAt(j);
  if (c === 41 /* ) */) return CONTEXT_FUNCTIONS.has(name);
  if (name.includes("-")) return true;
  // `doc('http://…')`: a document fetched from where the attacker says (out-of-band exfiltration).
  if ((c === 39 || c === 34) && (name === "doc" || name === "document")) return true;
  return depth > 0 && isLower(v.charCodeAt(j)) && callAt(v, j, depth - 1, false);
}

/** An XPath function over a location path anywhere: `count(/*)`, `name(/*[1])`, `string-length(name(..))`. */
function hasFunctionPath(v: string): boolean {
  for (let i = v.indexOf("("); i >= 0; i = v.indexOf("(", i + 1)) {
    // Back up over the name before this paren (and the whitespace between).
    let s = i - 1;
    while (s >= 0 && isSpace(v.charCodeAt(s))) s--;
    const end = s + 1;
    while (s >= 0 && end - s <= 40 && isNameChar(v.charCodeAt(s))) s--;
    if (end - s - 1 > 0 && callAt(v, s + 1, 2, true)) return true;
  }
  return false;
}

function hasAxis(v: string): boolean {
  for (let i = v.indexOf("::"); i >= 0; i = v.indexOf("::", i + 2)) {
    let s = i - 1;
    while (s >= 0 && i - s <= 24 && isNameChar(v.charCodeAt(s))) s--;
    if (s + 1 < i && startsName(v, s + 1) && axisAt(v, s + 1, false)) return true;
  }
  return false;
}

/**
 * A quote that ends the application's string literal, optionally a `]` or `)` that ends its
 * predicate, then `or`, `and` or a union `|`, and XPath's own vocabulary within the next chars:
 * `' or name()='admin`, `'] | //*`, `" and string-length(name(/*[1]))=4 and "1"="1`.
 */
function hasBreakout(v: string): boolean {
  // Only the first quote of each kind can end a literal the application opened; later ones end
  // literals the value opened itself (`he said 'no' and left`).
  for (const quote of QUOTES) {
    const q = v.indexOf(quote);
    if (q < 0) continue;
    let j = skipSpace(v, q + 1);
    for (let k = 0; k < 3 && (v.charCodeAt(j) === 93 || v.charCodeAt(j) === 41); k++) j = skipSpace(v, j + 1);
    const word = nameAt(v, j);
    const after = v.charCodeAt(j + word.length);
    if ((word === "or" || word === "and") && (isSpace(after) || after === 40 || after === 39 || after === 34))
      j += word.length;
    else if (v.charCodeAt(j) === 124 /* | */ && v.charCodeAt(j + 1) !== 124) j++;
    else continue;
    const stop = Math.min(v.length, j + WINDOW);
    if (evidenceAt(v, skipSpace(v, j), stop)) return true;
    if (tailIsXpath(v, j, stop)) return true;
  }
  return false;
}

const QUOTES = ["'", '"'] as const;

/** Whether an XPath function call or a location path appears in the window after a break-out. */
function tailIsXpath(v: string, from: number, stop: number): boolean {
  for (let j = from; j < stop; j++) {
    const c = v.charCodeAt(j);
    // At the last of a run of separators, so each start is tried once.
    if ((isSpace(c) || c === 40 || c === 61 || c === 124 || c === 44) && !isSpace(v.charCodeAt(j + 1)))
      if (evidenceAt(v, j + 1, stop)) return true;
  }
  return false;
}

const evidenceAt = (v: string, k: number, stop: number): boolean =>
  k < stop && (pathAt(v, k) || (isLower(v.charCodeAt(k)) && callAt(v, k, 2, false)));

/** `//user[`, `/*[1]`, `[@id=`, `/text()`: location-path syntax with predicates or node tests. */
function hasPathPredicate(v: string): boolean {
  if (v.includes("/*[") || v.includes("/text()") || v.includes("/node()")) return true;
  for (let i = v.indexOf("[@"); i >= 0; i = v.indexOf("[@", i + 2)) {
    const name = nameAt(v, i + 2);
    if (name.length > 0) {
      const j = skipSpace(v, i + 2 + name.length);
      const c = v.charCodeAt(j);
      // A comparison: Markdown's `[@user](…)` mentions test nothing.
      if (c === 61 || (c === 33 && v.charCodeAt(j + 1) === 61)) return true;
    }
  }
  for (let i = v.indexOf("//"); i >= 0; i = v.indexOf("//", i + 2)) {
    if (i > 0 && v.charCodeAt(i - 1) === 58) continue; // `scheme://`
    const name = nameAt(v, i + 2);
    if (name.length > 0 && v.charCodeAt(i + 2 + name.length) === 91) return true;
  }
  return false;
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

/**
 * What some rule needs: a function call's `(`, an axis's `::`, a break-out's quote, a predicate's
 * `[` (or the `(` of `/text()`, `/node()`). Most values hold none of them.
 */
const NEEDED = /[('"[]|::/;

/** Rules a value matches, at every paranoia level. */
export function classifyXpath(value: string): readonly RuleId[] {
  const v = value.length > 1 << 16 ? value.slice(0, 1 << 16) : value;
  if (!NEEDED.test(v)) return NO_RULES;
  const out: RuleId[] = [];
  const paren = v.indexOf("(") >= 0;
  if (paren && hasFunctionPath(v)) out.push("xpath-function-path");
  if (v.indexOf("::") >= 0 && hasAxis(v)) out.push("xpath-axis");
  if ((v.indexOf("'") >= 0 || v.indexOf('"') >= 0) && hasBreakout(v)) out.push("xpath-boolean-breakout");
  // Every predicate form holds a `[` or the `()` of `/text()` and `/node()`.
  if ((v.indexOf("[") >= 0 || v.indexOf("()") >= 0) && hasPathPredicate(v)) out.push("xpath-path-predicate");
  return out;
}

export const xpathDetector: Detector = {
  name: "xpath",
  // NEEDED (`::` holds a `:`).
  needs: { bits: CHAR_LPAREN | CHAR_QUOTE | CHAR_DQUOTE | CHAR_LBRACKET | CHAR_COLON },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyXpath(target.value);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = XPATH_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
