// NoSQL injection (MongoDB and the stores that copy its query language): a request that turns a
// value into a query operator (`password[$ne]=x`, `{"password": {"$gt": ""}}`, `?$where=…`), runs
// server-side JavaScript (`$where`, `$function`, `$accumulator`), or breaks out of a string that
// the application pastes into a `$where` expression (`'; sleep(5000); var x='`, `' || 'a'=='a`,
// `0;var d=new Date(); do{…}while(…)`); and Mongo shell commands (`db.users.find(`,
// `db.getSiblingDB(`). Operators are recognised only where a parser would read them as keys: a
// bracket segment of a parameter name, a JSON key (the `ARGS_JSON_NAMES` target), or an object
// literal inside a value; a `$` word in prose or a price is not one. Operators are case-sensitive
// in MongoDB, but the engine also feeds the lowercased variant, so the tables are lowercase. APIs
// that accept operators by design (Parse Server, Feathers, Strapi filters) need an exclusion of
// `nosql-operator-injection` on their routes. Scanning is indexOf/char loops: linear in the value.
import { CHAR_AMPERSAND, CHAR_DOLLAR, CHAR_LPAREN, CHAR_PIPE, CHAR_SEMICOLON } from "../chars.ts";
import {
  type Detection,
  type Detector,
  type ParanoiaLevel,
  type Severity,
  type Target,
  NO_DETECTIONS,
} from "../types.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "nosql-operator-injection"
  | "nosql-js-operator"
  | "nosql-js-breakout"
  | "nosql-shell-command"
  | "nosql-update-operator"
  | "nosql-shell-code";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: query and aggregation operators in key position, the JavaScript operators, a string
 * break-out into JavaScript, and a Mongo shell command that starts the value or follows a break-out.
 * PL2: update operators in key position (analytics SDKs send `$set` legitimately) and Mongo shell
 * code anywhere (a developer forum or code-review tool carries it in prose).
 */
export const NOSQL_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "nosql-operator-injection": { paranoia: 1, severity: "critical", tags: ["attack-nosql", "operator"] },
  "nosql-js-operator": { paranoia: 1, severity: "critical", tags: ["attack-nosql", "server-side-js"] },
  "nosql-js-breakout": { paranoia: 1, severity: "critical", tags: ["attack-nosql", "server-side-js"] },
  "nosql-shell-command": { paranoia: 1, severity: "critical", tags: ["attack-nosql", "shell"] },
  "nosql-update-operator": { paranoia: 2, severity: "warning", tags: ["attack-nosql", "operator"] },
  "nosql-shell-code": { paranoia: 2, severity: "warning", tags: ["attack-nosql", "shell"] },
};

/**
 * Query, logical, element, evaluation, array, bitwise, geo operators and aggregation stages. Not
 * `$type`: Json.NET writes it (with `$id`, `$ref`, `$values`) into ordinary .NET payloads.
 */
const QUERY_OPS = words(
  "ne eq gt gte lt lte in nin not nor or and exists regex options expr jsonschema mod text all " +
    "elemmatch size bitsallset bitsallclear bitsanyset bitsanyclear geowithin geointersects near " +
    "nearsphere lookup graphlookup unionwith out merge match group project addfields replaceroot " +
    "replacewith facet",
);
/** Operators whose argument is JavaScript run on the database server. */
const JS_OPS = words("where function accumulator");
const UPDATE_OPS = words(
  "set unset inc push pull pullall addtoset pop rename setoninsert currentdate mul bit",
);

/** Shell helpers on `db` that reach other databases, run commands or code. */
const DB_HELPERS = words(
  "getcollection getsiblingdb runcommand admincommand eval dropdatabase createuser dropuser " +
    "getcollectionnames getcollectioninfos getmongo getname version serverstatus currentop killop " +
    "shutdownserver fsynclock stats getusers auth",
);
/** Collection methods a payload calls as `db.<collection>.<method>(`. */
const COLLECTION_METHODS = words(
  "find findone insert insertone insertmany update updateone updatemany remove deleteone deletemany " +
    "drop aggregate count countdocuments mapreduce replaceone findoneandupdate findoneanddelete " +
    "findandmodify distinct bulkwrite renamecollection createindex",
);

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
const isIdent = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 95 || c === 36;
const isQuote = (c: number): boolean => c === 34 || c === 39 || c === 96;

/** The lowercase identifier at `i` (letters, digits, `_`), capped at 32 chars. */
function identAt(v: string, i: number): string {
  let j = i;
  while (
    j < v.length &&
    j - i < 32 &&
    (isAlpha(v.charCodeAt(j)) || isDigit(v.charCodeAt(j)) || v.charCodeAt(j) === 95)
  )
    j++;
  return v.slice(i, j).toLowerCase();
}

type OpKind = "query" | "js" | "update";

function opKind(op: string): OpKind | null {
  if (QUERY_OPS.has(op)) return "query";
  if (JS_OPS.has(op)) return "js";
  if (UPDATE_OPS.has(op)) return "update";
  return null;
}

/** Whether a target holds a key: a query-string or form parameter name, or a JSON key. */
const isKeyTarget = (name: string): boolean =>
  name.startsWith("ARGS_NAMES:") || name.startsWith("ARGS_JSON_NAMES:");

/**
 * Whether the `$op` at `at` (ending at `end`) sits where a parser reads a key: `[$op]`, a key
 * target that is `$op` or `$op[…]`, or an object literal `{ "$op":` / `, $op:`. JavaScript
 * operators may also open the value (`$where: 'sleep(100)'`).
 */
function inKeyPosition(v: string, at: number, end: number, keyTarget: boolean, js: boolean): boolean {
  const before = at > 0 ? v.charCodeAt(at - 1) : -1;
  const after = v.charCodeAt(end);
  if (before === 91 /* [ */ && after === 93 /* ] */) return true;
  if (keyTarget && at === 0 && (end === v.length || after === 91 || after === 46)) return true;
  // Object literal: an optional quote around the key, then a colon.
  let j = end;
  if (isQuote(after) && isQuote(before)) j++;
  while (j < v.length && isSpace(v.charCodeAt(j))) j++;
  if (v.charCodeAt(j) !== 58 /* : */) return false;
  let p = at - 1;
  if (p >= 0 && isQuote(v.charCodeAt(p))) p--;
  while (p >= 0 && isSpace(v.charCodeAt(p))) p--;
  if (p < 0) return js;
  const c = v.charCodeAt(p);
  return c === 123 /* { */ || c === 44; /* , */
}

/** Operator rules over every `$word` in the value. */
function scanOperators(v: string, keyTarget: boolean, out: Set<RuleId>): void {
  for (let at = v.indexOf("$"); at >= 0; at = v.indexOf("$", at + 1)) {
    if (at > 0 && isIdent(v.charCodeAt(at - 1)) && v.charCodeAt(at - 1) !== 36) continue;
    const op = identAt(v, at + 1);
    if (op.length === 0) continue;
    const end = at + 1 + op.length;
    if (end < v.length && isIdent(v.charCodeAt(end))) continue;
    const kind = opKind(op);
    if (kind === null || !inKeyPosition(v, at, end, keyTarget, kind === "js")) continue;
    out.add(
      kind === "query"
        ? "nosql-operator-injection"
        : kind === "js"
          ? "nosql-js-operator"
          : "nosql-update-operator",
    );
  }
}

/** Skips spaces from `j`. */
function skipSpace(v: string, j: number): number {
  while (j < v.length && isSpace(v.charCodeAt(j))) j++;
  return j;
}

/**
 * JavaScript that only a payload puts right after a break-out: a timing call, a loop, a return of
 * a literal, a declaration with assignment, `this.field`, a shell call, a function literal, or a
 * comparison of two literals (`'a'=='a`, `1==1`). It must be the first token after the break-out:
 * code that merely contains a string such as `";"` has other tokens there.
 */
function jsAt(v: string, i: number): boolean {
  const c = v.charCodeAt(i);
  if (isQuote(c) || isDigit(c)) return literalComparison(v, i);
  if (!isAlpha(c)) return false;
  const word = identAt(v, i);
  const j = skipSpace(v, i + word.length);
  const n = v.charCodeAt(j);
  switch (word) {
    case "sleep":
    case "while":
    case "for":
    case "if":
    case "tojson":
    case "printjson":
    case "emit":
      return n === 40;
    case "do":
      return n === 123;
    case "this":
      return v.charCodeAt(i + 4) === 46 && isAlpha(v.charCodeAt(i + 5));
    case "return": {
      if (n === 40 || n === 33 || isQuote(n) || isDigit(n)) return true;
      const next = identAt(v, j);
      return next === "true" || next === "false" || next === "this" || next === "db";
    }
    case "var":
    case "let":
    case "const": {
      const name = identAt(v, j);
      return name.length > 0 && j > i + word.length && v.charCodeAt(skipSpace(v, j + name.length)) === 61;
    }
    case "function":
      return n === 40 || (isAlpha(n) && v.charCodeAt(skipSpace(v, j + identAt(v, j).length)) === 40);
    case "db":
      return n === 46;
    case "true":
      return literalComparison(v, i);
    default:
      return false;
  }
}

/** The end of a short literal at `i` (a quoted string, a number, `true`), or -1. */
function literalEnd(v: string, i: number): number {
  const c = v.charCodeAt(i);
  if (isQuote(c)) {
    const close = v.indexOf(String.fromCharCode(c), i + 1);
    return close < 0 || close - i > 32 ? (close < 0 ? v.length : -1) : close + 1;
  }
  let j = i;
  while (j < v.length && j - i < 12 && isDigit(v.charCodeAt(j))) j++;
  if (j > i) return j;
  return v.startsWith("true", i) ? i + 4 : -1;
}

/** `'a'=='a`, `1==1`, `''!=='x`: two literals compared, the second possibly left open. */
function literalComparison(v: string, i: number): boolean {
  const end = literalEnd(v, i);
  if (end < 0) return false;
  let j = skipSpace(v, end);
  const c = v.charCodeAt(j);
  if (!((c === 61 || c === 33) && v.charCodeAt(j + 1) === 61)) return false;
  j += 2;
  if (v.charCodeAt(j) === 61) j++;
  j = skipSpace(v, j);
  return j < v.length && (isQuote(v.charCodeAt(j)) || isDigit(v.charCodeAt(j)));
}

/** Whether JavaScript evidence is the first token from `from` (past spaces and opening parens). */
function jsFirst(v: string, from: number): boolean {
  let j = from;
  while (j < v.length && j - from < 16 && (isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 40)) j++;
  return j < v.length && jsAt(v, j);
}

/** The value's start: optional quote, digits and spaces, then `;`; the `;`'s index, or -1. */
function separatorAtStart(v: string): number {
  let s = skipSpace(v, 0);
  if (isQuote(v.charCodeAt(s))) s++;
  while (s < v.length && (isDigit(v.charCodeAt(s)) || isSpace(v.charCodeAt(s)))) s++;
  return v.charCodeAt(s) === 59 ? s : -1;
}

const opensWithSeparator = (v: string): boolean => separatorAtStart(v) >= 0;

/**
 * A string break-out into JavaScript (`' || 'a'=='a`, `'; sleep(5000); '`, `"; return true; //`)
 * or a value that opens with a statement separator (`;var d=new Date()…`, `0;sleep(100)`), with
 * JavaScript evidence as the next token. The separator alone is prose.
 */
function hasJsBreakout(v: string): boolean {
  const s = separatorAtStart(v);
  if (s >= 0 && jsFirst(v, s + 1)) return true;
  // Only the first quote of each kind can close a string the application opened; later ones close
  // strings the value itself opened (`var a = "x"; var b = 1` in a code snippet). Backticks are
  // Markdown's code spans far more often than template literals.
  for (const quote of QUOTES) {
    const q = v.indexOf(quote);
    if (q < 0) continue;
    let j = skipSpace(v, q + 1);
    if (v.charCodeAt(j) === 41 /* ) */) j = skipSpace(v, j + 1);
    const c = v.charCodeAt(j);
    const n = v.charCodeAt(j + 1);
    if (c === 59) j++;
    else if ((c === 124 && n === 124) || (c === 38 && n === 38)) j += 2;
    else continue;
    if (jsFirst(v, j)) return true;
  }
  return false;
}

const QUOTES = ["'", '"'] as const;

/** `db.<helper>(` or `db.<collection>.<method>(` at `i` (`db` already matched there). */
function shellAt(v: string, i: number): boolean {
  if (i > 0 && (isIdent(v.charCodeAt(i - 1)) || v.charCodeAt(i - 1) === 46)) return false;
  const first = identAt(v, i + 3);
  if (first.length === 0) return false;
  let j = skipSpace(v, i + 3 + first.length);
  if (DB_HELPERS.has(first) && v.charCodeAt(j) === 40) return true;
  if (v.charCodeAt(j) !== 46) return false;
  j = skipSpace(v, j + 1);
  const method = identAt(v, j);
  return COLLECTION_METHODS.has(method) && v.charCodeAt(skipSpace(v, j + method.length)) === 40;
}

/**
 * Whether a shell call at `i` opens the value (after an optional quote) or follows a statement
 * separator, a brace or `||`/`&&` (`';db.x.drop()`); quoted in prose (`run 'db.x.find()'`) it does not.
 */
function anchored(v: string, i: number): boolean {
  let p = i - 1;
  while (p >= 0 && isSpace(v.charCodeAt(p))) p--;
  if (p >= 0 && isQuote(v.charCodeAt(p))) {
    let q = p - 1;
    while (q >= 0 && isSpace(v.charCodeAt(q))) q--;
    if (q < 0) return true;
  }
  if (p < 0) return true;
  const c = v.charCodeAt(p);
  const b = v.charCodeAt(p - 1);
  return c === 59 || c === 123 || (c === 124 && b === 124) || (c === 38 && b === 38);
}

function scanShell(v: string, out: Set<RuleId>): void {
  for (let i = v.indexOf("db."); i >= 0; i = v.indexOf("db.", i + 3)) {
    if (!shellAt(v, i)) continue;
    if (anchored(v, i)) {
      out.add("nosql-shell-command");
      return;
    }
    out.add("nosql-shell-code");
  }
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

const NEEDED = /[$;|&(]/;
const KEYED = /[$'"]|db\./;

/** Rules a value (in a target named `name`) matches, at every paranoia level. */
export function classifyNosql(value: string, name = ""): readonly RuleId[] {
  const v = value.length > 1 << 16 ? value.slice(0, 1 << 16) : value;
  // Operators need `$`, break-outs `;`, `||` or `&&`, shell calls `db.` and a `(`: most values hold none.
  if (!NEEDED.test(v)) return NO_RULES;
  // Past that (a User-Agent's `;` and `(`), every rule needs `$`, a quote or `db.`, except the
  // break-out that opens the value with `;`.
  if (!KEYED.test(v) && !opensWithSeparator(v)) return NO_RULES;
  const out = new Set<RuleId>();
  if (v.indexOf("$") >= 0) scanOperators(v, isKeyTarget(name), out);
  if ((v.indexOf(";") >= 0 || v.indexOf("|") >= 0 || v.indexOf("&") >= 0) && hasJsBreakout(v))
    out.add("nosql-js-breakout");
  if (v.indexOf("db.") >= 0) scanShell(v, out);
  return [...out];
}

export const nosqlDetector: Detector = {
  name: "nosql",
  // NEEDED.
  needs: { bits: CHAR_DOLLAR | CHAR_SEMICOLON | CHAR_PIPE | CHAR_AMPERSAND | CHAR_LPAREN },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyNosql(target.value, target.name);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = NOSQL_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
