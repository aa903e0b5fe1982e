// GraphQL abuse: schema introspection (`__schema { … }`, `__type(name: …)`), which maps the whole
// API for an attacker, and the query shapes that turn one HTTP request into thousands of resolver
// calls: nesting far deeper than any screen needs, one field aliased dozens of times (the alias
// trick that brute-forces a login or OTP inside a single request), the same field repeated in one
// selection set, very wide selection sets (wordlist probing for "Did you mean …?" suggestions), and
// JSON batches of many operations (`[{"query": …}, …]`). Introspection is normal in development
// (GraphiQL, Apollo Sandbox, code generators): `graphql-introspection` is the rule to exclude on a
// route whose schema is public. The query text arrives as `ARGS:query`, `ARGS_JSON:query`,
// `ARGS_JSON:[n].query` or a raw `application/graphql` body; the shape rules run on any value that
// reads as a GraphQL document and stays within GraphQL's lexical grammar (JSON whose quotes a
// decoded variant stripped does not). The tokenizer skips strings, block strings and comments,
// counts braces only outside argument lists, and is a single linear pass. Rules are our own.
import { CHAR_LBRACE, CHAR_UNDERSCORE } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";

type RuleId =
  | "graphql-introspection"
  | "graphql-type-introspection"
  | "graphql-depth"
  | "graphql-deep-nesting"
  | "graphql-alias-flood"
  | "graphql-alias-batch"
  | "graphql-wide-selection"
  | "graphql-batch-flood"
  | "graphql-batch";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: full schema introspection, nesting past `DEPTH_BLOCK`, a field aliased or repeated past the
 * flood limits, a batch past `BATCH_BLOCK` operations. PL2: a single type's introspection (some apps
 * read an enum's values this way), nesting past `DEPTH_WARN` (deep Relay queries come close),
 * repeated aliases past `ALIAS_WARN`, a selection set past `WIDE_WARN` fields, a batch past
 * `BATCH_WARN` operations (Apollo's batch link sends up to 10).
 */
export const GRAPHQL_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "graphql-introspection": { paranoia: 1, severity: "critical", tags: ["attack-graphql", "introspection"] },
  "graphql-type-introspection": { paranoia: 2, severity: "error", tags: ["attack-graphql", "introspection"] },
  "graphql-depth": { paranoia: 1, severity: "critical", tags: ["attack-graphql", "attack-dos"] },
  "graphql-deep-nesting": { paranoia: 2, severity: "warning", tags: ["attack-graphql", "attack-dos"] },
  "graphql-alias-flood": { paranoia: 1, severity: "critical", tags: ["attack-graphql", "attack-dos"] },
  "graphql-alias-batch": { paranoia: 2, severity: "warning", tags: ["attack-graphql", "attack-dos"] },
  "graphql-wide-selection": { paranoia: 2, severity: "warning", tags: ["attack-graphql", "schema-probe"] },
  "graphql-batch-flood": { paranoia: 1, severity: "critical", tags: ["attack-graphql", "attack-dos"] },
  "graphql-batch": { paranoia: 2, severity: "warning", tags: ["attack-graphql", "attack-dos"] },
};

/** Selection-set nesting (the operation's own braces count as 1) that blocks, and that warns. */
export const DEPTH_BLOCK = 20;
export const DEPTH_WARN = 13;
/** Aliases of one field called with arguments (`a1: login(code: "1")`), document-wide, that block and warn. */
export const ALIAS_BLOCK = 64;
export const ALIAS_WARN = 16;
/** Unaliased repeats of one field in one selection set that block (clients never repeat a field). */
export const REPEAT_BLOCK = 32;
/** Fields in one selection set that warn. */
export const WIDE_WARN = 64;
/** Operations in a JSON batch (the `n` of `[n].query`, zero-based) that block, and that warn. */
export const BATCH_BLOCK = 24;
export const BATCH_WARN = 10;

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 0xfeff;
const isNameStart = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
const isNameChar = (c: number): boolean => isNameStart(c) || (c >= 48 && c <= 57);

/** Skips GraphQL's ignored tokens: whitespace, commas and `#` comments. */
function skipIgnored(v: string, j: number): number {
  while (j < v.length) {
    const c = v.charCodeAt(j);
    if (isSpace(c) || c === 44) j++;
    else if (c === 35) {
      const nl = v.indexOf("\n", j);
      j = nl < 0 ? v.length : nl + 1;
    } else break;
  }
  return j;
}

/** `__schema` followed by a selection set, or `__type` by an argument list. */
function introspection(v: string, out: RuleId[]): void {
  // The next search starts past the ignored run just skipped (a comment may hold the name again).
  for (let i = v.indexOf("__schema"), j = 0; i >= 0; i = v.indexOf("__schema", Math.max(i + 8, j))) {
    if ((i > 0 && isNameChar(v.charCodeAt(i - 1))) || isNameChar(v.charCodeAt(i + 8))) continue;
    j = skipIgnored(v, i + 8);
    if (v.charCodeAt(j) === 123 /* { */ || v.charCodeAt(j) === 64 /* @directive */) {
      out.push("graphql-introspection");
      break;
    }
  }
  for (let i = v.indexOf("__type"), j = 0; i >= 0; i = v.indexOf("__type", Math.max(i + 6, j))) {
    // `__typename` is every client's.
    if ((i > 0 && isNameChar(v.charCodeAt(i - 1))) || isNameChar(v.charCodeAt(i + 6))) continue;
    j = skipIgnored(v, i + 6);
    if (v.charCodeAt(j) === 40 /* ( */) {
      out.push("graphql-type-introspection");
      break;
    }
  }
}

const OPERATION_KEYWORDS = new Set(["query", "mutation", "subscription", "fragment"]);

/**
 * How the value opens as a GraphQL document: 2 with an operation keyword (`query`, `mutation`,
 * `subscription`, `fragment`), 1 with a shorthand selection set (`{ field`, `{ ...Spread`), else 0.
 */
function documentKind(v: string): 0 | 1 | 2 {
  let j = skipIgnored(v, 0);
  if (v.charCodeAt(j) === 123) {
    j = skipIgnored(v, j + 1);
    return isNameStart(v.charCodeAt(j)) || v.startsWith("...", j) ? 1 : 0;
  }
  let k = j;
  while (k < v.length && k - j < 12 && isNameChar(v.charCodeAt(k))) k++;
  if (!OPERATION_KEYWORDS.has(v.slice(j, k))) return 0;
  const c = v.charCodeAt(skipIgnored(v, k));
  return c === 123 || c === 40 || c === 64 || isNameStart(c) ? 2 : 0;
}

interface Shape {
  depth: number;
  maxAliases: number;
  maxRepeats: number;
  maxWidth: number;
}

/** Skips a string (`"…"` with escapes, or a `"""` block string) that starts at `j`. */
function skipString(v: string, j: number): number {
  if (v.startsWith('"""', j)) {
    const end = v.indexOf('"""', j + 3);
    return end < 0 ? v.length : end + 3;
  }
  for (j++; j < v.length; j++) {
    const c = v.charCodeAt(j);
    if (c === 92) j++;
    else if (c === 34 || c === 10) return j + 1;
  }
  return v.length;
}

/** Punctuators GraphQL has besides `...` and `"`: `! $ & ( ) : = @ [ ] { | }`. */
const isPunctuator = (c: number): boolean =>
  c === 33 ||
  c === 36 ||
  c === 38 ||
  c === 40 ||
  c === 41 ||
  c === 58 ||
  c === 61 ||
  c === 64 ||
  c === 91 ||
  c === 93 ||
  c === 123 ||
  c === 124 ||
  c === 125;
const isNumberChar = (c: number): boolean =>
  (c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45;

/**
 * One pass over the document: the deepest selection set, the most aliases of one field called with
 * arguments (`a1: login(code: "1")`: the brute-force shape), the most unaliased repeats of one field
 * in one selection set, and the widest selection set. Names count as fields only in selection sets,
 * outside argument lists, and not after `...`, `on` or `@`. Returns null when the text is not
 * GraphQL after all: a char outside GraphQL's lexical grammar (`;`, `'`, `/`, `<`, a lone `.`), or
 * an alias colon not followed by a name (`{id:1}`, `{a:{b:…}}`: JSON with its quotes stripped, as
 * the shell-compacted variant shows it).
 */
function shape(v: string): Shape | null {
  const s: Shape = { depth: 0, maxAliases: 0, maxRepeats: 0, maxWidth: 0 };
  const aliases = new Map<string, number>();
  const repeats = new Map<string, number>();
  const widths: number[] = [];
  let setId = 0;
  const setIds: number[] = [];
  let braces = 0;
  let parens = 0;
  let prev = ""; // the previous significant token: a punctuator, or "name"
  let lastField = ""; // the field just counted (set id and name), which a `:` turns into an alias
  let aliased = false; // a selection-level `:` was just read: a field name must follow
  let aliasTarget = ""; // the aliased field just read, counted if arguments follow
  for (let j = skipIgnored(v, 0); j < v.length; j = skipIgnored(v, j)) {
    const c = v.charCodeAt(j);
    if (aliased && !isNameStart(c)) return null;
    if (aliasTarget !== "") {
      if (c === 40) {
        const n = (aliases.get(aliasTarget) ?? 0) + 1;
        aliases.set(aliasTarget, n);
        if (n > s.maxAliases) s.maxAliases = n;
      }
      aliasTarget = "";
    }
    if (c === 34) {
      j = skipString(v, j);
      prev = "string";
      continue;
    }
    if (isNameStart(c)) {
      let k = j + 1;
      while (k < v.length && isNameChar(v.charCodeAt(k))) k++;
      const name = v.slice(j, k);
      j = k;
      const selection = parens === 0 && braces > 0 && prev !== "@";
      const after = prev;
      prev = "name";
      if (!selection) continue;
      if (aliased) {
        aliased = false;
        aliasTarget = name;
        continue;
      }
      if (after === "...") {
        // `...Fragment` is a selection; `... on Type` names a type next.
        if (name !== "on") widths[braces - 1]!++;
        else prev = "on";
        continue;
      }
      if (after === "on") continue;
      const key = `${setIds[braces - 1]}:${name}`;
      const r = (repeats.get(key) ?? 0) + 1;
      repeats.set(key, r);
      if (r > s.maxRepeats) s.maxRepeats = r;
      const w = ++widths[braces - 1]!;
      if (w > s.maxWidth) s.maxWidth = w;
      lastField = key;
      continue;
    }
    if (c === 46 && v.startsWith("...", j)) {
      prev = "...";
      j += 3;
      continue;
    }
    if ((c >= 48 && c <= 57) || c === 45) {
      while (j < v.length && isNumberChar(v.charCodeAt(j))) j++;
      prev = "number";
      continue;
    }
    if (!isPunctuator(c)) return null;
    j++;
    if (c === 40) parens++;
    else if (c === 41) parens = Math.max(0, parens - 1);
    else if (parens === 0 && c === 123) {
      braces++;
      if (braces > s.depth) s.depth = braces;
      widths[braces - 1] = 0;
      setIds[braces - 1] = ++setId;
    } else if (parens === 0 && c === 125) braces = Math.max(0, braces - 1);
    else if (parens === 0 && c === 58 && braces > 0) {
      // `alias: field`: the name counted was an alias, not a field.
      if (prev !== "name" || lastField === "") return null;
      repeats.set(lastField, repeats.get(lastField)! - 1);
      aliased = true;
    }
    lastField = "";
    prev = String.fromCharCode(c);
  }
  return s;
}

/** The `n` of a batched operation's target name `ARGS_JSON:[n].query`, or -1. */
function batchIndex(name: string): number {
  if (!name.startsWith("ARGS_JSON:[") || !name.endsWith("].query")) return -1;
  const digits = name.slice(11, -7);
  return /^\d{1,6}$/.test(digits) ? Number(digits) : -1;
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

const NEEDED = /[_{]/;

/** Rules a value (in a target named `name`) matches, at every paranoia level. */
export function classifyGraphql(value: string, name = ""): readonly RuleId[] {
  const v = value.length > 1 << 16 ? value.slice(0, 1 << 16) : value;
  // Introspection needs `__`, every other rule a GraphQL document's `{`.
  if (!NEEDED.test(v)) return NO_RULES;
  const out: RuleId[] = [];
  if (v.indexOf("__") >= 0) introspection(v, out);
  const kind = v.indexOf("{") < 0 ? 0 : documentKind(v);
  if (kind === 0) return out;
  const n = batchIndex(name);
  if (n >= BATCH_BLOCK) out.push("graphql-batch-flood");
  else if (n >= BATCH_WARN) out.push("graphql-batch");
  const s = shape(v);
  if (s === null) return out;
  if (s.depth >= DEPTH_BLOCK) out.push("graphql-depth");
  else if (s.depth >= DEPTH_WARN) out.push("graphql-deep-nesting");
  // Repeats and width count plain words too: without an operation keyword or a nested selection
  // set, `{ key: some text … }` (JSON with its quotes stripped) would read as one wide selection.
  const marked = kind === 2 || s.depth >= 2;
  if (s.maxAliases >= ALIAS_BLOCK || (marked && s.maxRepeats >= REPEAT_BLOCK))
    out.push("graphql-alias-flood");
  else if (s.maxAliases >= ALIAS_WARN) out.push("graphql-alias-batch");
  if (marked && s.maxWidth >= WIDE_WARN) out.push("graphql-wide-selection");
  return out;
}

export const graphqlDetector: Detector = {
  name: "graphql",
  // NEEDED.
  needs: { bits: CHAR_UNDERSCORE | CHAR_LBRACE },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyGraphql(target.value, target.name);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = GRAPHQL_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
