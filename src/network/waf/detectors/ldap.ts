// LDAP injection: input spliced into a search filter (RFC 4515) such as `(&(uid=INPUT)(pw=…))`.
// The attacker's grammar is small: close the assertion the application opened (`admin)`), open a
// new component (`(|(uid=*`, `(&)`, `!(sn=*`), optionally cut the rest of the filter with a NUL
// byte; or glue a composite filter to a wildcard value (`*(|(objectclass=*))`); or probe credential
// attributes (`(userPassword=*)`, extensible match `userPassword:2.5.13.18:=x`). A well-formed
// filter that opens every paren it closes is what directory tools legitimately send, so the PL1
// rules key on the break-out (a `)` the value never opened, followed by filter syntax), on a
// composite filter right after a wildcard or the value's first word, and on password attributes
// in filter syntax. The engine feeds decoded variants (URL, HTML, JS/CSS escapes, base64,
// lowercase), so `%29%28` and `\29\28` arrive here as `)(`. Scanning jumps from paren to paren
// (and from `:=` to `:=`) with bounded look-ahead: linear in the value. Rules are our own.
import { CHAR_COLON, CHAR_LPAREN, CHAR_RPAREN } from "../chars.ts";
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
  | "ldap-filter-breakout"
  | "ldap-filter-splice"
  | "ldap-credential-attribute"
  | "ldap-nul-truncation"
  | "ldap-presence-probe"
  | "ldap-wildcard-close"
  | "ldap-extensible-match";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tags: readonly string[];
}

/**
 * PL1: a value that closes a paren it never opened and goes on in filter syntax; a composite filter
 * glued to a wildcard or value; a filter assertion on a password attribute; a break-out cut by a
 * NUL. PL2: a parenthesised presence filter (`(objectclass=*)`, also what a directory search form
 * may send), a wildcard that closes an unopened paren with nothing after it (`admin*)`), and any
 * extensible-match assertion (`attr:1.2.840.113556.1.4.803:=2`, common in Active Directory tools).
 */
export const LDAP_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "ldap-filter-breakout": { paranoia: 1, severity: "critical", tags: ["attack-ldap", "filter-breakout"] },
  "ldap-filter-splice": { paranoia: 1, severity: "critical", tags: ["attack-ldap", "filter-splice"] },
  "ldap-credential-attribute": {
    paranoia: 1,
    severity: "critical",
    tags: ["attack-ldap", "credential-probe"],
  },
  "ldap-nul-truncation": { paranoia: 1, severity: "critical", tags: ["attack-ldap", "nul-truncation"] },
  "ldap-presence-probe": { paranoia: 2, severity: "error", tags: ["attack-ldap", "wildcard-probe"] },
  "ldap-wildcard-close": { paranoia: 2, severity: "warning", tags: ["attack-ldap", "filter-breakout"] },
  "ldap-extensible-match": { paranoia: 2, severity: "warning", tags: ["attack-ldap", "extensible-match"] },
};

/** How far past a break-out the scanner looks for filter syntax. */
const LOOKAHEAD = 96;
/** Longest attribute description (name or OID plus options) read. */
const MAX_ATTR = 64;

const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isAlpha = (c: number): boolean => (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
/** `&`, `|`, `!`: the filter operators that open composite filters. */
const isFilterOp = (c: number): boolean => c === 38 || c === 124 || c === 33;

/**
 * Password-bearing attributes (OpenLDAP, Samba, Active Directory, LAPS, Kerberos): a filter that
 * tests one of them is guessing a secret one character at a time, never an application's own query.
 */
const CREDENTIAL_ATTRS = words(
  "userpassword unicodepwd authpassword sambantpassword sambalmpassword sambapasswordhistory " +
    "ms-mcs-admpwd mslaps-password mslaps-encryptedpassword dbcspwd ntpwdhistory lmpwdhistory " +
    "supplementalcredentials userpkcs12 krbprincipalkey krbextradata pwdhistory olcrootpw " +
    "ms-ds-managedpassword msds-managedpassword",
);

interface Attr {
  /** Lowercased attribute description without options. */
  name: string;
  /** Index just past the filter-type operator (`=`, `~=`, `>=`, `<=`, `:=`). */
  end: number;
  /** Whether it is an extensible match (`attr:dn:rule:=`). */
  extensible: boolean;
  /** Whether the extensible match names `:dn` or a matching rule (plain `attr:=` reads like code). */
  ruled: boolean;
}

/**
 * Reads an attribute assertion's left side at `i`: a name (`uid`, `cn;lang-en`) or numeric OID
 * (`2.5.4.3`, and the bare `1` of `(1=0)` probes), an optional extensible-match part (`:dn`,
 * `:caseExactMatch`, `:1.2.3`), then the operator. Returns null unless all of that is there.
 */
function readAttr(v: string, i: number): Attr | null {
  const start = i;
  const stop = Math.min(v.length, i + MAX_ATTR);
  const c0 = v.charCodeAt(i);
  if (!isAlpha(c0) && !isDigit(c0)) return null;
  let nameEnd = -1;
  let colons = 0;
  for (; i < stop; i++) {
    const c = v.charCodeAt(i);
    if (isAlpha(c) || isDigit(c) || c === 45 || c === 46 || c === 95) continue;
    if (c === 59 && nameEnd < 0) {
      nameEnd = i; // `;lang-en` options follow the name
      continue;
    }
    if (c === 58 /* : */) {
      if (v.charCodeAt(i + 1) === 61) break; // `:=` ends an extensible match
      if (nameEnd < 0) nameEnd = i;
      colons++;
      continue;
    }
    break;
  }
  if (i >= v.length) return null;
  if (nameEnd < 0) nameEnd = i;
  const c = v.charCodeAt(i);
  const n = v.charCodeAt(i + 1);
  let end = -1;
  if (c === 61 && colons === 0) end = i + 1;
  else if ((c === 126 || c === 62 || c === 60) && n === 61 && colons === 0) end = i + 2;
  else if (c === 58 && n === 61 && (colons > 0 || nameEnd === i)) end = i + 2;
  if (end < 0 || nameEnd === start) return null;
  const extensible = c === 58;
  return { name: v.slice(start, nameEnd).toLowerCase(), end, extensible, ruled: extensible && colons > 0 };
}

/**
 * Whether filter syntax opens at `j`, just after a `)` the value never opened: optional `)`s and
 * whitespace, an optional operator before the paren (`)&(`, `)!(`), then `(` and either operators
 * (`(|`, `(&)`, `(!(`) or an attribute assertion (`(uid=`, `(cn>=`, `(sn~=`).
 */
function opensComponent(v: string, j: number): boolean {
  const stop = Math.min(v.length, j + LOOKAHEAD);
  while (j < stop && (isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 41)) j++;
  if (j < stop && isFilterOp(v.charCodeAt(j))) {
    j++;
    while (j < stop && isSpace(v.charCodeAt(j))) j++;
  }
  if (v.charCodeAt(j) !== 40 /* ( */) return false;
  return componentBody(v, j + 1, stop);
}

/** After an opening paren: operators (`&` or `|` may stand alone, `!` needs a paren) or an assertion. */
function componentBody(v: string, j: number, stop: number): boolean {
  for (; j < stop; j++) {
    const c = v.charCodeAt(j);
    if (isSpace(c) || c === 40) continue;
    if (c === 38 || c === 124) return true;
    if (c === 33) {
      let k = j + 1;
      while (k < stop && isSpace(v.charCodeAt(k))) k++;
      if (v.charCodeAt(k) === 40) return true;
      return false;
    }
    break;
  }
  return j < v.length && readAttr(v, j) !== null;
}

/** After a break-out `)`, more `)`s or whitespace and then a NUL (decoded, still `%00`, or C-style `\00`). */
function nulFollows(v: string, j: number): boolean {
  const stop = Math.min(v.length, j + 16);
  while (j < stop && (isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 41)) j++;
  return (
    v.charCodeAt(j) === 0 || v.startsWith("%00", j) || v.startsWith("\\00", j) || v.startsWith("\\x00", j)
  );
}

/** Whether only whitespace and `)`s remain from `j`. */
function onlyClosesLeft(v: string, j: number): boolean {
  for (; j < v.length; j++) {
    const c = v.charCodeAt(j);
    if (!isSpace(c) && c !== 41) return false;
  }
  return true;
}

/**
 * A composite filter (`(&(`, `(|(`, `(!(`) right after a char that cannot precede one in a filter:
 * the value's own wildcard, or its first word, as in `*(|(objectclass=*))`, `admin*(|(uid=*))` or
 * `x(&(uid=a))`. After a wildcard any operator counts; after a word only `&` and `|` with an
 * assertion inside, so C's `f(&(s->x))` and JavaScript's `if(!(a))` stay out. `firstSpace` is the
 * index of the value's first whitespace: prose that quotes a filter has words before it.
 */
function isSplice(v: string, open: number, firstSpace: number): boolean {
  let p = open - 1;
  while (p >= 0 && isSpace(v.charCodeAt(p))) p--;
  if (p < 0) return false;
  const before = v.charCodeAt(p);
  if (before !== 42 /* * */) {
    const wordChar = isAlpha(before) || isDigit(before) || before === 95 || before === 45 || before === 46;
    if (!wordChar || (firstSpace >= 0 && firstSpace < p)) return false;
  }
  const stop = Math.min(v.length, open + LOOKAHEAD);
  let j = open + 1;
  while (j < stop && isSpace(v.charCodeAt(j))) j++;
  const op = v.charCodeAt(j);
  if (!isFilterOp(op)) return false;
  if (before !== 42 /* * */ && op === 33) return false;
  j++;
  while (j < stop && isSpace(v.charCodeAt(j))) j++;
  if (v.charCodeAt(j) !== 40) return false;
  j++;
  while (j < stop && (isSpace(v.charCodeAt(j)) || v.charCodeAt(j) === 40 || isFilterOp(v.charCodeAt(j)))) j++;
  return j < v.length && readAttr(v, j) !== null;
}

/** Reports what the assertion `a` shows; `inParen` when a `(` (and operators) opened it. */
function assertion(v: string, a: Attr, inParen: boolean, out: Set<RuleId>): void {
  if (CREDENTIAL_ATTRS.has(a.name)) out.add("ldap-credential-attribute");
  if (a.extensible) out.add("ldap-extensible-match");
  // `(attr=*)`: a presence filter, `*` then `)` or the value's end.
  else if (inParen && v.charCodeAt(a.end) === 42) {
    if (a.end + 1 >= v.length || v.charCodeAt(a.end + 1) === 41) out.add("ldap-presence-probe");
  }
}

/** The assertion right inside the `(` at `open`, past whitespace and operators (`(|userpassword=*`). */
function assertionInParen(v: string, open: number, out: Set<RuleId>): void {
  let j = open + 1;
  const stop = Math.min(v.length, j + 16);
  while (j < stop && (isSpace(v.charCodeAt(j)) || isFilterOp(v.charCodeAt(j)))) j++;
  const a = readAttr(v, j);
  if (a !== null) assertion(v, a, true, out);
}

const isAttrChar = (c: number): boolean =>
  isAlpha(c) || isDigit(c) || c === 45 || c === 46 || c === 95 || c === 59 || c === 58;

/**
 * Extensible matches with a rule or `:dn` outside parens (`userPassword:2.5.13.18:=x`): from each
 * `:=`, back over the attribute description to where it starts.
 */
function scanExtensible(v: string, out: Set<RuleId>): void {
  for (let k = v.indexOf(":="); k >= 0; k = v.indexOf(":=", k + 2)) {
    let s = k;
    while (s > 0 && k - s < MAX_ATTR && isAttrChar(v.charCodeAt(s - 1))) s--;
    while (s < k && !isAlpha(v.charCodeAt(s)) && !isDigit(v.charCodeAt(s))) s++;
    const a = readAttr(v, s);
    if (a !== null && a.ruled && a.end === k + 2) assertion(v, a, false, out);
  }
}

/**
 * The paren structure: each `(` opens (a splice or an assertion may follow it), each `)` closes
 * one, and a `)` with nothing open is a break-out. Jumps from paren to paren; the next `(` and `)`
 * are each searched for once per step past them, so the scan stays linear.
 */
function scanParens(v: string, out: Set<RuleId>): void {
  let depth = 0;
  let firstSpace = -1;
  for (let k = 0; k < v.length && firstSpace < 0; k++) if (isSpace(v.charCodeAt(k))) firstSpace = k;
  let nextOpen = v.indexOf("(");
  let nextClose = v.indexOf(")");
  while (nextOpen >= 0 || nextClose >= 0) {
    if (nextOpen >= 0 && (nextClose < 0 || nextOpen < nextClose)) {
      const i = nextOpen;
      nextOpen = v.indexOf("(", i + 1);
      depth++;
      if (!out.has("ldap-filter-splice") && isSplice(v, i, firstSpace)) out.add("ldap-filter-splice");
      assertionInParen(v, i, out);
      continue;
    }
    const i = nextClose;
    nextClose = v.indexOf(")", i + 1);
    if (depth > 0) {
      depth--;
      continue;
    }
    // A `)` the value never opened: it closes the application's own assertion.
    if (!out.has("ldap-filter-breakout") && opensComponent(v, i + 1)) out.add("ldap-filter-breakout");
    if (nulFollows(v, i + 1)) out.add("ldap-nul-truncation");
    if (i > 0 && v.charCodeAt(i - 1) === 42 && onlyClosesLeft(v, i + 1)) out.add("ldap-wildcard-close");
  }
}

// Shared, frozen empty results (callers only read them): a value that matches nothing allocates nothing.
const NO_RULES: readonly RuleId[] = Object.freeze([]);

const NEEDED = /[():]/;
const FILTER_CHARS = /[=&|!*%\\]/;
const mayBeFilter = (v: string): boolean => FILTER_CHARS.test(v) || v.indexOf("\0") >= 0;

/** Rules a value matches, at every paranoia level. */
export function classifyLdap(value: string): readonly RuleId[] {
  const v = value.length > 1 << 16 ? value.slice(0, 1 << 16) : value;
  // Every rule needs a paren or an extensible match's `:=` (so a `:`); most values hold neither.
  // Parens alone (a User-Agent's `(Windows NT 10.0; Win64)`) are not enough either: an assertion
  // needs `=`, a composite filter `&`, `|` or `!`, a NUL cut `\0`, `%` or `\\`, a wildcard close `*`.
  if (!NEEDED.test(v) || !mayBeFilter(v)) return NO_RULES;
  const hasParen = v.indexOf("(") >= 0 || v.indexOf(")") >= 0;
  const hasExtensible = v.indexOf(":=") >= 0;
  if (!hasParen && !hasExtensible) return NO_RULES;
  const out = new Set<RuleId>();
  if (hasParen) scanParens(v, out);
  if (hasExtensible) scanExtensible(v, out);
  return [...out];
}

export const ldapDetector: Detector = {
  name: "ldap",
  // NEEDED.
  needs: { bits: CHAR_LPAREN | CHAR_RPAREN | CHAR_COLON },
  inspect(target: Target): readonly Detection[] {
    const rules = classifyLdap(target.value);
    if (rules.length === 0) return NO_DETECTIONS; // the usual case: nothing to map
    return rules.map((rule) => {
      const r = LDAP_RULES[rule];
      return { rule, tags: r.tags, paranoia: r.paranoia, severity: r.severity, target: target.name };
    });
  },
};
