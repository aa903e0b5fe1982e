import { words } from "./lexicon.ts";
// A forgiving SQL tokenizer for injection detection: one pass over the characters, no regular
// expressions, a bounded number of tokens. It knows the basics shared by MySQL, PostgreSQL, MSSQL,
// SQLite and Oracle; where dialects disagree it leans to the reading an attacker could exploit.

/**
 * Token classes (one character each, so a token stream reads as a short string):
 * s string, n number, v variable, w word, k keyword, U set operator, f function name,
 * l logic operator, = comparison, o other operator, ( ) , ; . punctuation, c comment, ? other.
 */
export type SqlTokenKind =
  "s" | "n" | "v" | "w" | "k" | "U" | "f" | "l" | "=" | "o" | "(" | ")" | "," | ";" | "." | "c" | "?";

export interface SqlToken {
  kind: SqlTokenKind;
  /** Upper-cased text for words, keywords and operators (words over 64 chars are cut); raw text otherwise. */
  text: string;
  /** A string or block comment that runs to the end of the input without closing. */
  open: boolean;
  /** Set on `(` when whitespace precedes it: `f (x)` is more often prose than a call. */
  spaced?: boolean;
  /** Set on a `name` or [name] identifier: quoted names are never keywords or calls. */
  quoted?: boolean;
  /** Set on a comment whose body is short and free of quotes and angle brackets (`'--`, not `"#top">`). */
  quiet?: boolean;
}

/**
 * Quote context: tokenise as is, or as if the input began inside a '…' or "…" literal or a `…`
 * identifier (MySQL), the three ways an application embeds a value in a query.
 */
export type QuoteContext = "" | "'" | '"' | "`";

const KEYWORDS = words(
  "SELECT FROM WHERE INSERT INTO VALUES UPDATE SET DELETE DROP CREATE ALTER TABLE DATABASE EXEC EXECUTE " +
    "DECLARE ALL DISTINCT DISTINCTROW ORDER GROUP BY HAVING LIMIT OFFSET PROCEDURE OUTFILE DUMPFILE CASE WHEN " +
    "THEN ELSE END AS JOIN ON TRUNCATE SHUTDOWN WAITFOR DELAY TOP COLLATE HANDLER GRANT REVOKE BEGIN ESCAPE " +
    "FETCH ASC DESC USING RETURNING WITH ANALYSE ANALYZE LOCK SCHEMA VIEW INDEX TRIGGER FUNCTION LOGIN USER CALL",
);
const SET_OPERATORS = words("UNION INTERSECT EXCEPT");
const LOGIC = words("AND OR XOR NOT");
const COMPARISONS = words("LIKE RLIKE REGEXP IS IN BETWEEN SOUNDS GLOB ILIKE DIV MOD NOTNULL");
const LITERAL_WORDS = words("TRUE FALSE NULL");
// Longest first: the lexer takes the first that matches. `@>`, `<@`, `?|`, `?&`, `@?` are PostgreSQL
// JSON and array operators.
const MULTI_OPERATORS = "<=> ->> <= >= <> != !< !> == || && :: := << >> -> @> <@ ?| ?& @?".split(" ");
const COMPARISON_OPERATORS = words("<=> <= >= <> != !< !> ==");
/** Every word `classifyWord` knows (the rest are plain words). */
export const LEXER_WORDS: readonly string[] = [
  KEYWORDS,
  SET_OPERATORS,
  LOGIC,
  COMPARISONS,
  LITERAL_WORDS,
].flatMap((set) => [...set]);
const MAX_WORD = 64;

export const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
// Letters, digits, _ and $; anything non-ASCII counts as a letter (MySQL allows it in identifiers).
export const isWordChar = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 36 || c >= 128;
export const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13) || c === 160;

// Comment bodies are checked only up to 64 characters: a longer one is not quiet anyway.
function isQuiet(body: string): boolean {
  if (body.length > 64) return false;
  for (let i = 0; i < body.length; i++) if ("'\"<>".includes(body[i]!)) return false;
  return true;
}

/** The class of an upper-cased word: a keyword, logic, comparison or set operator, a literal, or "w". */
export function classifyWord(upper: string): SqlTokenKind {
  if (KEYWORDS.has(upper)) return "k";
  if (LOGIC.has(upper)) return "l";
  if (COMPARISONS.has(upper)) return "=";
  if (SET_OPERATORS.has(upper)) return "U";
  if (LITERAL_WORDS.has(upper)) return "n";
  return "w";
}

/** Tokenises `input` as SQL in the given quote context; stops after `maxTokens` tokens. */
export function lexSql(input: string, quote: QuoteContext = "", maxTokens = 2048): SqlToken[] {
  const out: SqlToken[] = [];
  const n = input.length;
  let i = 0;
  // Inside a MySQL `/*! … */` comment: its content is code, and the closing `*/` is just a separator.
  let versionComment = false;

  // Scans a literal body from `from` up to its closing quote; doubled quotes and (if `escapes`)
  // backslash escapes.
  const scanString = (from: number, q: number, escapes: boolean): number => {
    let j = from;
    while (j < n) {
      const c = input.charCodeAt(j);
      if (c === 92 && escapes) j += 2;
      else if (c === q) {
        if (input.charCodeAt(j + 1) === q) j += 2;
        else return j;
      } else j++;
    }
    return -1;
  };
  const pushString = (from: number, q: number, escapes = true): void => {
    const end = scanString(from, q, escapes);
    const stop = end < 0 ? n : end;
    out.push({ kind: "s", text: input.slice(from, Math.min(stop, from + MAX_WORD)), open: end < 0 });
    i = end < 0 ? n : end + 1;
  };
  // Skips an inline `/* … */` comment that glues two word parts (`UN/**/ION`), returning where it ends.
  const gluedCommentEnd = (at: number): number => {
    if (input.charCodeAt(at) !== 47 || input.charCodeAt(at + 1) !== 42 || input.charCodeAt(at + 2) === 33)
      return -1;
    const close = input.indexOf("*/", at + 2);
    if (close < 0 || !isWordChar(input.charCodeAt(close + 2))) return -1;
    return close + 2;
  };

  // The breakout ignores backslashes: `\'` is how payloads aim at escaping that adds a backslash of its
  // own (`\\'` then closes the literal) or at dialects where a backslash is an ordinary character.
  if (quote !== "") pushString(0, quote.charCodeAt(0), false);

  while (i < n && out.length < maxTokens) {
    const c = input.charCodeAt(i);
    const next = input.charCodeAt(i + 1);
    if (isSpace(c)) {
      i++;
    } else if (c === 39 || c === 34) {
      pushString(i + 1, c);
    } else if (c === 96 || c === 91) {
      // `identifier` (MySQL) and [identifier] (MSSQL): names, never code. An unclosed one is no
      // identifier at all (`;truncate[xx`, `` ` AS `x` from``): the character is skipped.
      const close = input.indexOf(c === 96 ? "`" : "]", i + 1);
      if (close < 0) {
        i++;
        continue;
      }
      const text = input.slice(i + 1, Math.min(close, i + 1 + MAX_WORD)).toUpperCase();
      out.push({ kind: "w", text, open: false, quoted: true });
      i = close + 1;
    } else if ((c === 45 && next === 45) || c === 35) {
      // `--` and `#` run to the end of the line.
      const nl = input.indexOf("\n", i);
      const body = input.slice(i + (c === 35 ? 1 : 2), nl < 0 ? n : nl);
      out.push({ kind: "c", text: c === 35 ? "#" : "--", open: nl < 0, quiet: isQuiet(body) });
      i = nl < 0 ? n : nl + 1;
    } else if (c === 47 && next === 42) {
      if (input.charCodeAt(i + 2) === 33) {
        // `/*!50000 code */`: MySQL runs the content; skip the marker and optional version number.
        i += 3;
        while (i < n && isDigit(input.charCodeAt(i))) i++;
        versionComment = true;
      } else {
        const close = input.indexOf("*/", i + 2);
        const body = input.slice(i + 2, close < 0 ? n : close);
        out.push({ kind: "c", text: "/*", open: close < 0, quiet: isQuiet(body) });
        i = close < 0 ? n : close + 2;
      }
    } else if (c === 42 && next === 47 && versionComment) {
      versionComment = false;
      i += 2;
    } else if (c === 64 && next !== 62 && next !== 63) {
      // @var, @@system_var, @'quoted'.
      let j = i + 1;
      while (input.charCodeAt(j) === 64) j++;
      const start = j;
      while (j < n && (isWordChar(input.charCodeAt(j)) || input.charCodeAt(j) === 46)) j++;
      out.push({ kind: "v", text: input.slice(i, Math.min(j, i + MAX_WORD)).toUpperCase(), open: false });
      i = j > start ? j : i + 1;
    } else if (isDigit(c) || (c === 46 && isDigit(next))) {
      i = lexNumber(input, i, out);
    } else if (isWordChar(c)) {
      let j = i;
      let text = "";
      for (;;) {
        const start = j;
        while (j < n && isWordChar(input.charCodeAt(j))) j++;
        if (text.length < MAX_WORD) text += input.slice(start, Math.min(j, start + MAX_WORD));
        // Only glue fragments that are not words in their own right: `UN/**/ION`, not `DROP/**/TABLE`.
        const glued = classifyWord(text.toUpperCase()) === "w" ? gluedCommentEnd(j) : -1;
        if (glued < 0) break;
        j = glued;
      }
      const upper = text.toUpperCase();
      out.push({ kind: classifyWord(upper), text: upper, open: false });
      i = j;
    } else if (c === 40 || c === 41 || c === 44 || c === 59 || c === 46) {
      const token: SqlToken = { kind: input[i] as SqlTokenKind, text: input[i]!, open: false };
      if (c === 40 && i > 0 && isSpace(input.charCodeAt(i - 1))) token.spaced = true;
      out.push(token);
      i++;
    } else {
      i = lexOperator(input, i, out);
    }
  }
  return out;
}

// Numbers: 0x…/0b… literals, decimals, exponents (`1e5`, and MySQL's lenient `1.e`). Plain digits that
// run straight into letters form a word (`2aa5`), as MySQL reads identifiers that start with digits.
function lexNumber(input: string, i: number, out: SqlToken[]): number {
  const end = numberEnd(input, i);
  if (end < 0) {
    out.push({ kind: "w", text: input.slice(i, Math.min(-end, i + MAX_WORD)).toUpperCase(), open: false });
    return -end;
  }
  out.push({ kind: "n", text: input.slice(i, Math.min(end, i + MAX_WORD)), open: false });
  return end;
}

/**
 * Where the number that starts at `i` ends; negated when plain digits run into letters and the whole
 * run is a word instead (`2aa5` ends at 4: -4).
 */
export function numberEnd(input: string, i: number): number {
  const n = input.length;
  let j = i;
  let plain = true;
  const c1 = input.charCodeAt(i + 1) | 32;
  if (input.charCodeAt(i) === 48 && (c1 === 120 || c1 === 98) && isHex(input.charCodeAt(i + 2))) {
    j = i + 2;
    plain = false;
    while (j < n && isHex(input.charCodeAt(j))) j++;
  } else {
    while (j < n && isDigit(input.charCodeAt(j))) j++;
    if (input.charCodeAt(j) === 46) {
      j++;
      plain = false;
      while (j < n && isDigit(input.charCodeAt(j))) j++;
    }
    if ((input.charCodeAt(j) | 32) === 101) {
      const sign = input.charCodeAt(j + 1);
      const k = sign === 43 || sign === 45 ? j + 2 : j + 1;
      if (isDigit(input.charCodeAt(k)) || input.charCodeAt(j - 1) === 46) {
        j = k;
        plain = false;
        while (j < n && isDigit(input.charCodeAt(j))) j++;
      }
    }
  }
  // Only plain digits can start an identifier: after `1e0`, `.5` or `0x1` a letter starts a new token
  // (`1e0UNION SELECT` is a number and UNION to MySQL).
  if (plain && j < n && isWordChar(input.charCodeAt(j))) {
    while (j < n && isWordChar(input.charCodeAt(j))) j++;
    return -j;
  }
  return j;
}

// The multi-character operators by first character, in the order above.
const OPERATORS_BY_START: (string[] | undefined)[] = [];
for (const op of MULTI_OPERATORS) (OPERATORS_BY_START[op.charCodeAt(0)] ??= []).push(op);

/** The operator at `i`: the longest multi-character one that matches, else the single character. */
export function operatorAt(input: string, i: number): string {
  const candidates = OPERATORS_BY_START[input.charCodeAt(i)];
  if (candidates !== undefined) {
    const second = input.charCodeAt(i + 1);
    for (const op of candidates)
      if (second === op.charCodeAt(1) && (op.length === 2 || input.charCodeAt(i + 2) === op.charCodeAt(2)))
        return op;
  }
  return input[i]!;
}

/** The class of an operator `operatorAt` found. */
export function operatorKind(op: string): SqlTokenKind {
  if (op.length > 1) return op === "||" || op === "&&" ? "l" : COMPARISON_OPERATORS.has(op) ? "=" : "o";
  return op === "=" || op === "<" || op === ">" ? "=" : "+-*/%^|&~!:".includes(op) ? "o" : "?";
}

function lexOperator(input: string, i: number, out: SqlToken[]): number {
  const op = operatorAt(input, i);
  out.push({ kind: operatorKind(op), text: op, open: false });
  return i + op.length;
}
