// SQL injection by structure, not by pattern: the value is tokenised as SQL four times (as is, and as
// if it began inside a '…' or "…" literal or a `…` identifier, the ways an application embeds it), each
// token stream is folded into a short sequence of token classes, and rules look for shapes that only
// make sense when the value leaves its literal and goes on as SQL. Beside them, probes: the short
// values scanners send to see whether a parameter reaches a database (a system catalogue's name, a
// database-only function with its `(`, a PostgreSQL `::type` cast, MySQL's `/*!` comments, a query's
// tail such as `) AS x FROM`), the NoSQL operators (`$ne`, `$where`) and ORM field lookups
// (`user__password__startswith`) that do the same job for document stores and ORMs. Rules, token
// classes and keyword tables are our own.
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import {
  LEXER_WORDS,
  classifyWord,
  isDigit,
  isSpace,
  isWordChar,
  lexSql,
  numberEnd,
  operatorAt,
  operatorKind,
  type QuoteContext,
  type SqlToken,
} from "./sqli-lexer.ts";
import { words } from "./lexicon.ts";

type RuleId =
  | "sqli-tautology"
  | "sqli-boolean-injection"
  | "sqli-union"
  | "sqli-stacked"
  | "sqli-time-blind"
  | "sqli-comment-truncation"
  | "sqli-clause-injection"
  | "sqli-function-probe"
  | "sqli-file-access"
  | "sqli-statement"
  | "sqli-subquery"
  | "sqli-boolean-expression"
  | "sqli-logic-breakout"
  | "sqli-time-function"
  | "sqli-fingerprint"
  | "sqli-comment-ending"
  | "sqli-catalog"
  | "sqli-db-function"
  | "sqli-pg-cast"
  | "sqli-nosql"
  | "sqli-evasion"
  | "sqli-call-fragment"
  | "sqli-select-list"
  | "sqli-ddl"
  | "sqli-float-dos"
  | "sqli-int-overflow"
  | "sqli-function-name"
  | "sqli-fragment"
  | "sqli-orm-lookup"
  | "sqli-orm-filter";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/**
 * Every rule this detector reports. PL1: structures and names benign text does not produce, critical
 * so one match blocks. PL2: weaker signals (everyday SQL function names with `(`, query fragments,
 * bare procedure names); those that held at zero on real traffic and the benign sets are critical,
 * so a PL2 route blocks on them, the noisier ones (quoted statements, fingerprints) only add to the
 * score. PL3: ORM lookups on a single field, which filter APIs use legitimately.
 */
export const SQLI_RULES: Readonly<Record<RuleId, RuleInfo>> = {
  "sqli-tautology": { paranoia: 1, severity: "critical", tag: "sqli-auth-bypass" },
  "sqli-boolean-injection": { paranoia: 1, severity: "critical", tag: "sqli-blind" },
  "sqli-union": { paranoia: 1, severity: "critical", tag: "sqli-union" },
  "sqli-stacked": { paranoia: 1, severity: "critical", tag: "sqli-stacked" },
  "sqli-time-blind": { paranoia: 1, severity: "critical", tag: "sqli-blind" },
  "sqli-comment-truncation": { paranoia: 1, severity: "critical", tag: "sqli-auth-bypass" },
  "sqli-clause-injection": { paranoia: 1, severity: "critical", tag: "sqli-probe" },
  "sqli-function-probe": { paranoia: 1, severity: "critical", tag: "sqli-error-based" },
  "sqli-file-access": { paranoia: 1, severity: "critical", tag: "sqli-file-access" },
  "sqli-statement": { paranoia: 2, severity: "error", tag: "sqli-statement" },
  "sqli-subquery": { paranoia: 2, severity: "critical", tag: "sqli-statement" },
  "sqli-boolean-expression": { paranoia: 2, severity: "critical", tag: "sqli-blind" },
  "sqli-logic-breakout": { paranoia: 1, severity: "critical", tag: "sqli-blind" },
  "sqli-time-function": { paranoia: 2, severity: "critical", tag: "sqli-blind" },
  "sqli-fingerprint": { paranoia: 2, severity: "warning", tag: "sqli-probe" },
  "sqli-comment-ending": { paranoia: 2, severity: "warning", tag: "sqli-auth-bypass" },
  "sqli-catalog": { paranoia: 1, severity: "critical", tag: "sqli-probe" },
  "sqli-db-function": { paranoia: 1, severity: "critical", tag: "sqli-probe" },
  "sqli-pg-cast": { paranoia: 1, severity: "critical", tag: "sqli-error-based" },
  "sqli-nosql": { paranoia: 1, severity: "critical", tag: "nosqli" },
  "sqli-evasion": { paranoia: 1, severity: "critical", tag: "sqli-evasion" },
  "sqli-call-fragment": { paranoia: 1, severity: "critical", tag: "sqli-probe" },
  "sqli-select-list": { paranoia: 1, severity: "critical", tag: "sqli-statement" },
  "sqli-ddl": { paranoia: 1, severity: "critical", tag: "sqli-statement" },
  "sqli-float-dos": { paranoia: 1, severity: "critical", tag: "sqli-dos" },
  "sqli-int-overflow": { paranoia: 2, severity: "critical", tag: "sqli-probe" },
  "sqli-function-name": { paranoia: 2, severity: "critical", tag: "sqli-probe" },
  "sqli-fragment": { paranoia: 2, severity: "critical", tag: "sqli-probe" },
  "sqli-orm-lookup": { paranoia: 2, severity: "critical", tag: "orm-injection" },
  "sqli-orm-filter": { paranoia: 3, severity: "critical", tag: "orm-injection" },
};

/** A folded token: comments are gone, but the kind of one that followed is remembered ("" if none). */
interface Folded extends SqlToken {
  commentAfter: string;
  /** Whether that comment was quiet (see `SqlToken.quiet`). */
  quietComment?: boolean;
}

const TIME_FUNCTIONS = words(
  "SLEEP PG_SLEEP PG_SLEEP_FOR PG_SLEEP_UNTIL BENCHMARK DBMS_LOCK.SLEEP DBMS_SESSION.SLEEP " +
    "DBMS_PIPE.RECEIVE_MESSAGE RANDOMBLOB",
);
// Functions used to leak data through error messages.
const ERROR_FUNCTIONS = words(
  "EXTRACTVALUE UPDATEXML EXP GTID_SUBSET GTID_SUBTRACT JSON_KEYS NAME_CONST XMLTYPE CONVERT CAST " +
    "ST_LATFROMGEOHASH ST_LONGFROMGEOHASH ST_POINTFROMGEOHASH POLYGON MULTIPOINT LINESTRING GEOMETRYCOLLECTION " +
    "CTXSYS.DRITHSX.SN UTL_INADDR.GET_HOST_NAME UTL_INADDR.GET_HOST_ADDRESS DBMS_XMLGEN.GETXML FLOOR ELT MAKE_SET",
);
// Functions that reveal the database, its version, user or host.
const FINGERPRINT_FUNCTIONS = words(
  "VERSION DATABASE USER CURRENT_USER SYSTEM_USER SESSION_USER SCHEMA DB_NAME HOST_NAME SUSER_NAME USER_NAME " +
    "LOAD_FILE PG_READ_FILE PG_LS_DIR SQLITE_VERSION SQLITE_COMPILEOPTION_USED SQLITE_COMPILEOPTION_GET " +
    "CURRENT_DATABASE CONNECTION_ID LAST_INSERT_ID ROW_COUNT UUID SYS_CONTEXT XP_CMDSHELL OPENROWSET OPENQUERY",
);
// Functions that read or write server files.
const FILE_FUNCTIONS = words(
  "LOAD_FILE PG_READ_FILE PG_READ_BINARY_FILE LO_IMPORT LO_EXPORT UTL_FILE.FOPEN BULK",
);
// Common SQL functions: a call to one of these is a call even with a space before `(`.
const KNOWN_FUNCTIONS = new Set([
  ...words(
    "CONCAT CONCAT_WS CHAR CHR ASCII ORD SUBSTRING SUBSTR MID IF IIF COUNT LENGTH HEX UNHEX MD5 JSON_EXTRACT " +
      "COALESCE IFNULL NULLIF ISNULL GROUP_CONCAT RAND",
  ),
  ...TIME_FUNCTIONS,
  ...ERROR_FUNCTIONS,
  ...FINGERPRINT_FUNCTIONS,
  ...FILE_FUNCTIONS,
]);
// Keywords that are also function names when followed by `(`.
const KEYWORD_FUNCTIONS = words("USER SCHEMA DATABASE INSERT REPLACE VALUES TRUNCATE IF LEFT RIGHT CHAR");
// System catalogues and well-known system tables, by name prefix.
const CATALOGUE_PREFIXES = [
  ..."INFORMATION_SCHEMA PG_CATALOG PG_SHADOW PG_USER SYSOBJECTS SYSCOLUMNS SQLITE_MASTER SQLITE_SCHEMA".split(
    " ",
  ),
  ..."MYSQL.USER SYS. MASTER. ALL_TABLES ALL_TAB_COLUMNS USER_TABLES DBA_USERS".split(" "),
];
// Clauses that only follow a complete query: after a breakout they probe its shape (`' ORDER BY 5--`).
const CLAUSES = new Set([
  "ORDER BY",
  "GROUP BY",
  "HAVING",
  "LIMIT",
  "PROCEDURE",
  "INTO OUTFILE",
  "WHERE",
  "OFFSET",
]);
const SCHEMA_OBJECTS = words("TABLE DATABASE SCHEMA VIEW INDEX PROCEDURE FUNCTION TRIGGER USER LOGIN");
const STATEMENT_KEYWORDS = words(
  "COPY SELECT INSERT UPDATE DELETE DROP CREATE ALTER TRUNCATE EXEC EXECUTE DECLARE SHUTDOWN CALL SET BEGIN",
);
const EQUALITY = words("= == <=> != <>");
// Single-letter or charset prefixes of string literals: N'…', X'…', E'…', _utf8'…'.
const STRING_PREFIXES = words("N X B E U& _UTF8 _UTF8MB4 _LATIN1 _BINARY");
const PAIRS: Record<string, string> = {
  "ORDER+BY": "ORDER BY",
  "GROUP+BY": "GROUP BY",
  "WAITFOR+DELAY": "WAITFOR DELAY",
  "WAITFOR+TIME": "WAITFOR DELAY",
  "INTO+OUTFILE": "INTO OUTFILE",
  "INTO+DUMPFILE": "INTO OUTFILE",
};

// A single identifier or a call; merged words ("summary follows") are prose.
const isName = (t: Folded | undefined): boolean =>
  t !== undefined && (t.kind === "f" || (t.kind === "w" && !t.text.includes(" ")));
const isLiteral = (t: Folded | undefined): boolean =>
  t !== undefined && (t.kind === "n" || t.kind === "s" || t.kind === "v");

/** Drops comments (remembering them), merges adjacent strings and words, and names functions and compound keywords. */
function fold(tokens: SqlToken[]): Folded[] {
  const out: Folded[] = [];
  for (const t of tokens) {
    const prev = out[out.length - 1];
    if (t.kind === "c") {
      if (prev && !prev.commentAfter) {
        prev.commentAfter = t.text;
        prev.quietComment = t.quiet === true;
      }
      continue;
    }
    // `+` next to a keyword is a form-encoded space or a no-op unary plus.
    if (prev?.kind === "o" && prev.text === "+" && (t.kind === "k" || t.kind === "U" || t.kind === "l"))
      out.pop();
    const last = out[out.length - 1];
    if (
      t.kind === "o" &&
      t.text === "+" &&
      last &&
      (last.kind === "k" || last.kind === "U" || last.kind === "l")
    )
      continue;
    if (last && !last.commentAfter) {
      if (t.kind === "s" && last.kind === "s") {
        last.open = t.open;
        continue;
      }
      if (t.kind === "s" && last.kind === "w" && STRING_PREFIXES.has(last.text)) {
        out[out.length - 1] = { ...t, commentAfter: "" };
        continue;
      }
      if (t.kind === "w" && last.kind === "w") {
        last.text = `${last.text} ${t.text}`.slice(0, 64);
        last.quoted = t.quoted;
        continue;
      }
      if (
        (t.kind === "k" || t.kind === "l") &&
        (last.kind === "k" || last.kind === "U" || last.kind === "=")
      ) {
        const pair = PAIRS[`${last.text}+${t.text}`];
        if (pair) {
          last.text = pair;
          continue;
        }
        // UNION ALL / UNION DISTINCT, IS NOT, NOT LIKE.
        if (last.kind === "U" && (t.text === "ALL" || t.text === "DISTINCT" || t.text === "DISTINCTROW"))
          continue;
        if (last.kind === "=" && t.text === "NOT") continue;
      }
      if (t.kind === "=" && last.kind === "l" && last.text === "NOT") {
        out[out.length - 1] = { ...t, commentAfter: "" };
        continue;
      }
      if (t.kind === "=" && t.text === "LIKE" && last.kind === "=" && last.text === "SOUNDS") continue;
      // Qualified names: schema.table, package.function, master..xp_cmdshell.
      if ((t.kind === "w" || t.kind === "k") && last.kind === ".") {
        let j = out.length - 1;
        while (out[j]?.kind === ".") j--;
        const owner = out[j];
        if (owner && (owner.kind === "w" || owner.kind === "v") && !owner.commentAfter) {
          out.length = j + 1;
          owner.text = `${owner.text}.${t.text}`.slice(0, 64);
          continue;
        }
      }
      // Unary sign folds into the number: `-1`, `~0`.
      if (t.kind === "n" && last.kind === "o" && "+-~!".includes(last.text)) {
        const before = out[out.length - 2];
        if (!before || "(,=lokU;".includes(before.kind)) {
          out[out.length - 1] = { ...t, text: last.text + t.text, commentAfter: "" };
          continue;
        }
      }
      const word = last.kind === "w" && !last.text.includes(" ");
      const known = KNOWN_FUNCTIONS.has(last.text) || KEYWORD_FUNCTIONS.has(last.text);
      const callable = word || (last.kind === "k" && KEYWORD_FUNCTIONS.has(last.text));
      if (t.kind === "(" && callable && (!t.spaced || known)) last.kind = "f";
    }
    out.push({ ...t, commentAfter: "" });
  }
  return out;
}

type Report = (rule: RuleId) => void;

/** Where the injected SQL would begin: after the breakout literal (and any closing parentheses). */
function injectionStart(t: Folded[], ctx: QuoteContext): { at: number; strong: boolean } | null {
  let i = 0;
  let strong: boolean;
  if (ctx !== "") {
    if (t[0]?.kind !== "s" || t[0].open) return null;
    i = 1;
    strong = true;
  } else {
    const first = t[0];
    const second = t[1];
    // A number, a closing quote or parenthesis, a leading subquery or a leading `OR <literal>` only
    // start a value that was pasted into SQL.
    strong =
      first?.kind === "n" ||
      first?.kind === ")" ||
      (first?.kind === "s" && !first.open) ||
      (first?.kind === "(" && second?.text === "SELECT") ||
      (first?.kind === "l" && (isLiteral(second) || second?.kind === "f"));
    if (first && (first.kind === "n" || first.kind === "s" || first.kind === "w" || first.kind === "v"))
      i = 1;
  }
  while (t[i]?.kind === ")" && !t[i - 1]?.commentAfter) i++;
  return { at: i, strong };
}

/** Whether the call at `j` has SQL-like arguments (`sleep(5)`, `version()`, `substr(password,1,1)`), not prose `price(s)`. */
function callLooksLikeSql(t: Folded[], j: number): boolean {
  if (KNOWN_FUNCTIONS.has(t[j]!.text)) return true;
  const arg = t[j + 2];
  if (!arg) return false;
  return "nsvf()".includes(arg.kind) || arg.text === "SELECT" || (arg.kind === "w" && t[j + 3]?.kind === ",");
}

/** Classifies the condition that starts at `j` (after a logic or comparison operator). */
function condition(t: Folded[], j: number, strong: boolean, quoted: boolean): "tautology" | "blind" | null {
  while (
    t[j] &&
    (t[j]!.kind === "(" ||
      (t[j]!.kind === "l" && t[j]!.text === "NOT") ||
      (t[j]!.kind === "o" && "!~-".includes(t[j]!.text)))
  )
    j++;
  const a = t[j];
  if (!a) return null;
  const subquery = a.kind === "k" && ((a.text === "SELECT" && statement(t, j, false)) || a.text === "CASE");
  if ((a.kind === "f" && callLooksLikeSql(t, j)) || subquery) return strong || quoted ? "blind" : null;
  let k = j + 1;
  // Skip closing parentheses and PostgreSQL casts (`'{}'::jsonb`).
  while (t[k]?.kind === ")" || (t[k]?.text === "::" && t[k + 1]?.kind === "w"))
    k += t[k]!.kind === ")" ? 1 : 2;
  const b = t[k];
  if (isLiteral(a)) {
    // A lone literal ends the condition: `' OR 1--`, `x' OR '1` (the application's quote closes it),
    // `" OR 1 GROUP BY …`. Inside quotes a bare number at the end would leave the quote unbalanced.
    if (b?.kind === "k" && CLAUSES.has(b.text)) return strong || quoted ? "tautology" : null;
    if (!b || b.kind === "l" || b.kind === ";") {
      const boolean = a.kind === "n" && (a.text === "TRUE" || a.text === "FALSE");
      // Short and without spaces, as in `x' OR '1`: prose quoting words ("… 'or' 'not'") is longer.
      const closedByApp = quoted && a.kind === "s" && a.open && a.text.length <= 16 && !/\s/.test(a.text);
      return closedByApp || t[k - 1]!.commentAfter || (!quoted && strong && boolean) ? "tautology" : null;
    }
    // Constant against constant; for strings after a breakout any operator will do (`' OR '{}'::jsonb <@ '{}'`).
    if (
      b.kind !== "=" &&
      !((strong || quoted) && a.kind === "s" && (b.kind === "o" || b.kind === "?" || b.kind === "v"))
    )
      return null;
    let m = k + 1;
    while (t[m]?.kind === "(") m++;
    const c = t[m];
    // PostgreSQL arrays are constants too: `'{"a":1}' ?| array['a']`.
    if (isLiteral(c) || (c?.text.split(" ")[0] === "ARRAY" && b.kind === "o")) return "tautology";
    if (c && (c.kind === "f" || (c.kind === "k" && c.text === "SELECT")))
      return strong || quoted ? "blind" : null;
    return null;
  }
  if (a.kind === "w" && b?.kind === "=") {
    const c = t[k + 1];
    if (c?.kind === "w" && c.text === a.text) return "tautology";
    // `' OR name LIKE '%` / `1 OR id=1--`: a column compared with a literal that ends the input.
    if ((quoted || strong) && isLiteral(c) && (!t[k + 2] || c!.commentAfter || t[k + 2]!.kind === "l"))
      return "tautology";
  }
  return null;
}

/** Whether a statement begins at `j`; `destructive` asks for one that changes or runs something. */
function statement(t: Folded[], j: number, destructive: boolean): boolean {
  const a = t[j];
  const b = t[j + 1];
  if (!a) return false;
  const text = a.kind === "k" || a.kind === "f" ? a.text : "";
  switch (text) {
    case "DROP":
    case "TRUNCATE":
    case "ALTER":
    case "CREATE":
      return b !== undefined && SCHEMA_OBJECTS.has(b.text);
    case "SHUTDOWN":
      return !b || b.kind === ";" || b.text === "WITH" || a.commentAfter !== "";
    case "EXEC":
    case "EXECUTE":
      // Anywhere, only extended procedures or dynamic SQL; after a `;`, any procedure.
      if (destructive) {
        const dynamic = b?.text === "IMMEDIATE" || (b?.kind === "(" && isLiteral(t[j + 2]));
        return dynamic || /^(MASTER\.+)?(DBO\.)?(XP|SP)_/.test(b?.text ?? "");
      }
      return isName(b) || b?.kind === "(";
    case "DECLARE":
    case "SET":
      // Anywhere, only with a type or an assignment: `DECLARE @x INT`, `SET @a = 1`, not `declare @john winner`.
      return b?.kind === "v" && (!destructive || declaration(t, j + 2));
    case "WAITFOR DELAY":
      return isLiteral(b);
    case "INSERT":
      return b?.text === "INTO";
    case "DELETE":
      return b?.text === "FROM";
    case "UPDATE":
      return b?.kind === "w" && t[j + 2]?.text === "SET";
    case "CALL":
      return isName(b);
    case "SELECT":
      return (
        !destructive &&
        b !== undefined &&
        ("nfvs(".includes(b.kind) || b.text === "*" || (b.kind === "w" && t[j + 2]?.text === "FROM"))
      );
    default:
      // `; IF(…)`, `; IIF(…)`, `; BEGIN …`: a procedural statement.
      return (
        !destructive &&
        ((a.kind === "f" && (a.text === "IF" || a.text === "IIF")) || (a.kind === "k" && a.text === "BEGIN"))
      );
  }
}

/** Rules anchored at the injection point of one quote context. */
function anchored(t: Folded[], ctx: QuoteContext, report: Report): void {
  const start = injectionStart(t, ctx);
  if (!start) return;
  let { at } = start;
  const { strong } = start;
  const quoted = ctx !== "";
  // `1') AS alias WHERE …`: a derived-table alias the payload adds to stay valid.
  if (t[at]?.text === "AS" && t[at + 1]?.kind === "w") at += 2;
  const head = t[at];
  if (!head) {
    // `admin'--`: the literal closes and a comment swallows the rest of the query. A noisy comment
    // is markup, not SQL: `href="#top">`, `"-->`.
    if (quoted && t[at - 1]?.commentAfter && t[at - 1]?.quietComment) report("sqli-comment-truncation");
    return;
  }
  // `x'|email--`, `id'is not-id--`: after the breakout an expression on a column, the rest cut off.
  // `z'or email notnull--`, `user'collate nocase--`, `\' or json (id);`: any short SQL tail ended by a
  // comment or a `;` after the breakout.
  const end = t[t.length - 1]!;
  const cut = (end.commentAfter !== "" && end.quietComment) || (end.kind === ";" && t.length - at > 1);
  if (quoted && "=o?lk".includes(head.kind) && cut && t.length - at <= 10 && t.length - at >= 2) {
    // A collation is SQL only when it names one: `'collate nocase--`, not `'collate foo--`.
    const collation = head.text !== "COLLATE" || COLLATIONS.test(t[at + 1]?.text ?? "");
    // After an arithmetic or bitwise operator only a single operand: `x'|email--`, not `"-c, --count`.
    const tail = t.slice(at + 1);
    const shape =
      head.kind === "o"
        ? tail.length === 1 && "wn".includes(tail[0]!.kind)
        : tail.every((x) => "wnso=?lk(),;".includes(x.kind));
    if (collation && shape) report("sqli-fragment");
  }
  // `' UNION A`, `" union/`: a set operator straight after the breakout (not a quoted 'union' word).
  const after = t[at + 1];
  if (
    quoted &&
    head.kind === "U" &&
    (!after || (after.kind === "w" && !after.text.includes(" ") && !t[at + 2]))
  )
    report("sqli-fragment");
  // `\'and`, `\' and 1`: a backslash that escapes the escaping, then logic.
  if (quoted && head.kind === "l" && t[at - 1]?.text.endsWith("\\") && at === 1) report("sqli-fragment");
  // `admin@example.com';` closes the literal and ends the statement.
  if (quoted && head.kind === ";" && at === t.length - 1) report("sqli-comment-truncation");
  const firm = strong || quoted;
  if (head.kind === "=" && firm && isLiteral(t[at - 1]) && isLiteral(t[at + 1])) {
    // The value is itself a constant comparison: `'x'!='y`, `1=1--` (a bare `1=1` is only PL2).
    const after = t[at + 2];
    const cut = t[at + 1]!.commentAfter !== "";
    if (!after || after.kind === "l" || cut) {
      // Only (in)equality: `">"` and `'<'` are everyday markup, not comparisons.
      const loud = t[at - 1]!.kind === "s" || quoted || cut || after?.kind === "l";
      if (EQUALITY.has(head.text)) report(loud ? "sqli-tautology" : "sqli-logic-breakout");
    } else if (after?.text === "=" && t[at + 3]?.kind === "n" && !t[at + 4] && t[at - 1]!.kind === "s") {
      // A chain of constants ending in an equality: `'{"a":2}' < '$.a' = 7`.
      report("sqli-boolean-injection");
    }
  } else if (head.kind === "l" || head.kind === "=" || (firm && "o,(".includes(head.kind))) {
    const verdict = condition(t, head.kind === "(" ? at : at + 1, strong, quoted);
    const next = t[at + 2]?.kind ?? "";
    // After an arithmetic operator only a call or subquery counts: `2+2=4` is arithmetic, not a bypass.
    if (verdict === "tautology" && head.kind !== "=" && head.kind !== "o") report("sqli-tautology");
    else if (verdict === "blind") report("sqli-boolean-injection");
    else if (
      firm &&
      head.kind === "l" &&
      (isLiteral(t[at + 1]) || t[at + 1]?.kind === "w") &&
      (next === "=" || next === "o")
    ) {
      // `' OR 'x' <`, `XOR 99>`: a condition cut short; weaker, but still a breakout into logic.
      report("sqli-logic-breakout");
    }
  } else if (head.kind === "k" && CLAUSES.has(head.text)) {
    const arg = t[at + 1];
    if (quoted || (strong && (isLiteral(arg) || head.commentAfter || arg?.commentAfter)))
      report("sqli-clause-injection");
  } else if (quoted && head.kind === "k" && STATEMENT_KEYWORDS.has(head.text)) {
    report("sqli-statement");
    // `'alter a`, `'select H`: a statement keyword straight after the breakout; everyday verbs (set,
    // update, begin, call) are left to prose.
    // Nothing follows but one name or operator: UI text quotes whole phrases ("Drop files here").
    const object = t[at + 1];
    const bare =
      object !== undefined && t.length === at + 2 && !object.text.includes(" ") && "wo".includes(object.kind);
    if (bare && BREAKOUT_VERBS.has(head.text)) report("sqli-fragment");
  }
  if (!firm) return;
  // After a breakout, SQL structure anywhere in the rest counts too (`1' IN BOOLEAN MODE) OR 2=(SELECT …`).
  for (let i = at; i < t.length; i++) {
    const x = t[i]!;
    if (x.kind === ";") {
      // After a breakout even a bare call stacks (`1';CALL x(…)`, `1');IIF(…)`).
      const next = t[i + 1];
      const keyword = next !== undefined && "kwf".includes(next.kind) && STATEMENT_KEYWORDS.has(next.text);
      if (statement(t, i + 1, false) || next?.kind === "f" || (quoted && keyword && i === at))
        report("sqli-stacked");
    } else if (
      (x.kind === "l" && x.text !== "NOT") ||
      (x.kind === "k" && (x.text === "WHERE" || x.text === "HAVING" || x.text === "WHEN"))
    ) {
      const verdict = condition(t, i + 1, strong, quoted);
      if (verdict === "tautology") report(x.kind === "l" ? "sqli-tautology" : "sqli-clause-injection");
      else if (verdict === "blind") report("sqli-boolean-injection");
    } else if (x.kind === "k" && (x.text === "ORDER BY" || x.text === "GROUP BY") && isLiteral(t[i + 1])) {
      // `1' IN BOOLEAN MODE) ORDER BY 1#`: column-count probing.
      report("sqli-clause-injection");
    }
  }
}

/** Rules that hold wherever the shape appears. */
function unanchored(t: Folded[], report: Report): void {
  let sawSelect = false;
  for (let i = 0; i < t.length; i++) {
    const a = t[i]!;
    const b = t[i + 1];
    if (a.kind === "U") {
      let j = i + 1;
      while (t[j]?.kind === "(") j++;
      // Any UNION SELECT but the prose shape "union select committee" (one plain word ending the value).
      const select =
        t[j]?.text === "SELECT" &&
        !(t[j + 1]?.kind === "w" && !t[j + 2] && !t[j + 1]!.commentAfter && !isSqlFunction(t[j + 1]!.text));
      if (select || t[j]?.text === "VALUES") report("sqli-union");
    } else if (a.kind === ";") {
      if (statement(t, i + 1, true)) report("sqli-stacked");
      else if (statement(t, i + 1, false) || (b?.kind === "k" && STATEMENT_KEYWORDS.has(b.text)))
        report("sqli-statement");
    } else if (a.kind === "f" && b?.kind === "(") {
      const arg = t[i + 2];
      // `IIF(1=1,…)`, `ELT(5=5,…)`: a constant condition as an argument is an oracle, not data.
      if (isLiteral(arg) && t[i + 3]?.kind === "=" && isLiteral(t[i + 4])) report("sqli-boolean-injection");
      // `if(2=`, `IIF(1234=`: a conditional on a constant comparison, left for the query to finish.
      if ((a.text === "IF" || a.text === "IIF") && arg?.kind === "n" && t[i + 3]?.kind === "=" && !t[i + 4])
        report("sqli-boolean-injection");
      const hasComma = t[i + 3]?.kind === "," || t[i + 4]?.kind === ",";
      if (FILE_FUNCTIONS.has(a.text) && (arg?.kind === "s" || arg?.kind === "n")) report("sqli-file-access");
      if (TIME_FUNCTIONS.has(a.text) && arg && arg.kind !== ")" && (a.text !== "BENCHMARK" || hasComma)) {
        const before = t[i - 1];
        // Inside an expression, or glued to a closed literal (`2010-01-01' sleep(20) '`).
        const inExpression = before !== undefined && "l=o(,;kUs".includes(before.kind);
        report(inExpression || (i === 0 && arg.kind === "n") ? "sqli-time-blind" : "sqli-time-function");
      } else if (ERROR_FUNCTIONS.has(a.text)) {
        if (probesInside(t, i + 2)) report("sqli-function-probe");
        else report("sqli-fingerprint");
      } else if (FINGERPRINT_FUNCTIONS.has(a.text)) {
        report("sqli-fingerprint");
      }
    } else if (a.kind === "k") {
      if (a.text === "WAITFOR DELAY" && isLiteral(b)) report("sqli-time-blind");
      else if ((a.text === "EXEC" || a.text === "EXECUTE") && b && /^(MASTER\.+)?(DBO\.)?XP_/.test(b.text))
        report("sqli-stacked");
      else if (a.text === "WHEN" && condition(t, i + 1, false, false) === "tautology")
        report("sqli-boolean-injection");
      else if (a.text === "INTO OUTFILE" && b?.kind === "s") report("sqli-file-access");
      else if (a.text === "PROCEDURE" && b?.text === "ANALYSE") report("sqli-clause-injection");
      // `…) AS alias FROM`: the tail of a select list.
      else if (
        a.text === "AS" &&
        t[i - 1]?.kind === ")" &&
        "ws".includes(b?.kind ?? "-") &&
        t[i + 2]?.text === "FROM"
      )
        report("sqli-statement");
      else if (a.text === "SELECT") {
        sawSelect = true;
        // `(SELECT …`, and `=(select` left open for the query to finish.
        if (t[i - 1]?.kind === "(" && ((b && b.kind !== ")") || (!b && t[i - 2]?.kind === "=")))
          report("sqli-subquery");
      } else if (a.text === "FROM" && sawSelect) report("sqli-statement");
      else if (statement(t, i, true)) report("sqli-statement");
    } else if (a.kind === "v" && a.text.startsWith("@@")) {
      report("sqli-fingerprint");
    } else if (a.kind === "w" && CATALOGUE_PREFIXES.some((p) => a.text.startsWith(p))) {
      report("sqli-fingerprint");
    } else if (
      a.kind === "l" &&
      a.text !== "NOT" &&
      i > 0 &&
      condition(t, i + 1, false, false) === "tautology"
    ) {
      report("sqli-logic-breakout");
    } else if (
      a.kind === "=" &&
      EQUALITY.has(a.text) &&
      t[i - 1]?.kind === "n" &&
      b?.kind === "n" &&
      t[i - 2]?.kind !== "o"
    ) {
      // `1=1`, `42<=>42` anywhere (not arithmetic like `2+2=4`); `(5=5)*1` inside an expression is an oracle.
      const wrapped = t[i - 2]?.kind === "(" && t[i + 2]?.kind === ")";
      const inExpression = "lo=,".includes(t[i - 3]?.kind ?? "-") || "lo=".includes(t[i + 3]?.kind ?? "-");
      report(wrapped && inExpression ? "sqli-boolean-injection" : "sqli-boolean-expression");
    }
  }
  const last = t[t.length - 1];
  // URLs carry `#` and `--` with `=` and `&` around them, so only keywords or calls make it SQL.
  const closes = last !== undefined && "ns)kv".includes(last.kind);
  if (last?.commentAfter && closes && t.some((x) => x.kind === "k" || x.kind === "U" || x.kind === "f")) {
    report("sqli-comment-ending");
  }
}

// System schemas, catalogues and well-known system or sample databases of MySQL, PostgreSQL, MSSQL,
// Oracle, SQLite and Access: an application never takes these names from a user, reconnaissance does.
const CATALOGUES = words(
  "INFORMATION_SCHEMA PERFORMANCE_SCHEMA PG_CATALOG PG_SHADOW PG_AUTHID PG_ROLES PG_NAMESPACE PG_CLASS " +
    "PG_ATTRIBUTE PG_DATABASE PG_PROC PG_STAT_ACTIVITY PG_LARGEOBJECT SYSOBJECTS SYSCOLUMNS SYSUSERS " +
    "SYSDATABASES SYSLOGINS SYSPROCESSES SYSSERVERS SYSXLOGINS TEMPDB MSDB NORTHWIND SQLITE_MASTER " +
    "SQLITE_SCHEMA SQLITE_TEMP_MASTER MSYSACCESSOBJECTS MSYSOBJECTS MSYSQUERIES MSYSRELATIONSHIPS MSYSACES " +
    "ALL_TAB_COLUMNS DBA_USERS DBA_TABLES USER_TAB_COLUMNS SCHEMA_NAME MYSQL.USER MYSQL.DB V$VERSION",
);
// Extended procedures, packages and providers that reach outside the database (MSSQL, Oracle).
const PROCEDURES = words(
  "XP_CMDSHELL XP_DIRTREE XP_REGREAD XP_REGWRITE XP_FILEEXIST XP_SUBDIRS XP_AVAILABLEMEDIA SP_PASSWORD " +
    "SP_EXECUTESQL SP_OACREATE SP_OAMETHOD SP_MAKEWEBTASK SP_ADDLOGIN SP_ADDSRVROLEMEMBER SP_CONFIGURE " +
    "UTL_HTTP UTL_FILE UTL_INADDR UTL_TCP UTL_SMTP DBMS_JAVA DBMS_PIPE DBMS_LDAP OPENROWSET OPENDATASOURCE " +
    "OPENQUERY MSDASQL SQLOLEDB",
);
// Functions only a database has (MySQL, PostgreSQL, MSSQL, Oracle, SQLite): followed by `(` they are a
// call in SQL, and no prose or mainstream programming language uses the name.
const DB_FUNCTIONS = words(
  "BENCHMARK PG_SLEEP PG_SLEEP_FOR PG_READ_FILE PG_READ_BINARY_FILE PG_LS_DIR PG_STAT_FILE LO_GET LO_IMPORT " +
    "LO_EXPORT CONCAT_WS GROUP_CONCAT EXTRACTVALUE UPDATEXML LOAD_FILE MAKE_SET EXPORT_SET NAME_CONST UNHEX " +
    "IFNULL NULLIF COALESCE XMLTYPE SYSDATE UNCOMPRESS FIND_IN_SET SUBSTRING_INDEX CHAR_LENGTH " +
    "CHARACTER_LENGTH OCTET_LENGTH DB_NAME DB_ID DATABASE CURRENT_USER SESSION_USER SYSTEM_USER SUSER_NAME " +
    "SUSER_SNAME IS_SRVROLEMEMBER HAS_DBACCESS CURRENT_DATABASE CURRENT_SCHEMA CONNECTION_ID LAST_INSERT_ID " +
    "FOUND_ROWS GTID_SUBSET GTID_SUBTRACT JSON_KEYS JSON_EXTRACT JSON_SEARCH JSON_ARRAYAGG JSON_OBJECTAGG " +
    "JSON_BUILD_OBJECT JSONB_BUILD_OBJECT JSONB_PRETTY JSON_VALID ROW_TO_JSON STRING_AGG LISTAGG " +
    "SQLITE_VERSION RANDOMBLOB ZEROBLOB UNISTR NVL NVL2 QUOTENAME OPENROWSET OPENQUERY OPENDATASOURCE " +
    "XP_CMDSHELL XP_DIRTREE XP_REGREAD SP_EXECUTESQL SP_OACREATE UTL_INADDR.GET_HOST_NAME " +
    "UTL_INADDR.GET_HOST_ADDRESS UTL_HTTP.REQUEST DBMS_PIPE.RECEIVE_MESSAGE DBMS_LOCK.SLEEP DBMS_XMLGEN.GETXML " +
    "CTXSYS.DRITHSX.SN SYS_CONTEXT ST_LATFROMGEOHASH ST_LONGFROMGEOHASH ST_POINTFROMGEOHASH",
);
// Everyday SQL functions that other languages and prose share: a call is a weaker sign (PL2).
const SQL_FUNCTIONS = words(
  "ABS ACOS ASCII ASIN ATAN AVG CAST CEIL CEILING CHAR CHR COMPRESS CONCAT CONVERT COS COUNT CRC32 DATE DAY " +
    "DECODE DEFAULT ELT ENCODE EXECUTE EXP FLOOR FORMAT GREATEST HEX IF IIF INSERT INSTR ISNULL LCASE " +
    "LEAST LEFT LENGTH LN LOCATE LOG LOWER LPAD LTRIM MAX MD5 MID MIN MINUTE MONTH NOW ORD OVERLAY PI POW " +
    "POWER QUARTER RAND REPLACE REVERSE RIGHT ROUND RPAD RTRIM SHA1 SHA2 SIN SLEEP SOUNDEX SQRT STARTS_WITH " +
    "STRCMP SUBSTR SUBSTRING SUM TAN TIME TRIM UCASE UPPER USER VALUES VERSION YEAR SCHEMA",
);
// PostgreSQL types a `::` cast names: `'x'::int` forces a conversion error that leaks the value.
const CAST_TYPES = words(
  "INT INT2 INT4 INT8 INTEGER BIGINT SMALLINT TEXT VARCHAR BPCHAR BOOL BOOLEAN JSON JSONB NUMERIC DECIMAL " +
    "FLOAT4 FLOAT8 REAL DOUBLE TIMESTAMP TIMESTAMPTZ INTERVAL REGCLASS REGPROC OID BYTEA INET CIDR UUID XML MONEY",
);
// MongoDB query and update operators, as keys (`{"$ne": 1}`), bracket names (`id[$ne]=1`) or inline.
const MONGO_OPERATORS = words(
  "where ne eq gt gte lt lte in nin regex exists not nor and or elemmatch expr size all mod jsonschema text " +
    "function accumulator lookup",
);
const MONGO_METHODS = words(
  "INSERT INSERTONE INSERTMANY FIND FINDONE FINDANDMODIFY REMOVE UPDATE UPDATEONE UPDATEMANY DELETEONE " +
    "DELETEMANY DROP AGGREGATE MAPREDUCE COUNT DISTINCT RENAMECOLLECTION",
);
// Words that can follow MySQL's `/*!` executable-comment marker in an injection.
const SQL_WORDS = words(
  "SELECT UNION FROM WHERE AND OR XOR NOT INSERT UPDATE DELETE DROP CREATE ALTER ORDER GROUP HAVING LIMIT " +
    "INTO LIKE SLEEP BENCHMARK CONCAT ALL DISTINCT TABLE EXEC",
);

// A spaced `name (` is a call probe only when nothing or a literal follows: `round (`, not `Left (WA, RR)`.
const bareCall = (arg: Folded | undefined): boolean => arg === undefined || "nsv)".includes(arg.kind);
const isSqlFunction = (name: string): boolean => DB_FUNCTIONS.has(name) || SQL_FUNCTIONS.has(name);
const lastPart = (text: string): string => text.slice(text.lastIndexOf(" ") + 1);

/** Shapes of probes and dialect-specific syntax: catalogues, database functions, casts, NoSQL operators. */
function probes(t: Folded[], ctx: QuoteContext, report: Report): void {
  const plain = ctx === "";
  // `admin@example.com\`;`: the identifier closes and the statement ends.
  if (ctx === "`" && t.length === 2 && t[0]!.kind === "s" && t[0]!.text !== "" && t[1]!.kind === ";")
    report("sqli-comment-truncation");
  for (let i = 0; i < t.length; i++) {
    const a = t[i]!;
    const b = t[i + 1];
    const prev = t[i - 1];
    if (a.kind === "w" || a.kind === "f" || a.kind === "k") {
      const merged = a.text.includes(" ");
      const parts = merged || a.text.includes(".") ? a.text.split(" ") : [a.text];
      for (const part of parts) {
        // `information_schema.tables`, `mysql.db.x`: the catalogue is the first one or two name parts.
        const names = part.includes(".") ? part.split(".") : [part];
        const owner = names[0]!;
        if (CATALOGUES.has(part) || CATALOGUES.has(owner) || CATALOGUES.has(names.slice(0, 2).join(".")))
          report("sqli-catalog");
        if (PROCEDURES.has(owner)) report("sqli-fragment");
      }
      if (a.kind === "k") keywordProbes(t, i, report);
      if (b?.kind === "(" && !a.quoted) {
        // A method (`x.trim(`, `$obj->trim(`) is another language; a spaced `(` after prose is prose.
        const method = prev !== undefined && prev.kind === "o" && (prev.text === "->" || prev.text === "::");
        const name = lastPart(a.text);
        // A spaced `(` is a call only where a call could stand: `database (`, not "the system database (see".
        const callable = !b.spaced || (!merged && (!prev || "(,=lo;".includes(prev.kind)));
        if (!method && callable) {
          if (DB_FUNCTIONS.has(name)) report("sqli-db-function");
          else if (SQL_FUNCTIONS.has(name) && (!b.spaced || (i === 0 && bareCall(t[i + 2])))) {
            report("sqli-function-name");
            // A call left open at the end of the value is a fragment for the query to complete
            // (`if (` opening a line is code in any language).
            if (i + 2 === t.length && !(name === "IF" && b.spaced)) report("sqli-call-fragment");
          } else if (
            a.kind === "f" &&
            name.startsWith("DB.") &&
            MONGO_METHODS.has(name.slice(name.lastIndexOf(".") + 1))
          )
            report("sqli-nosql");
        }
      }
    } else if (a.kind === "l" && a.text !== "NOT" && (!prev || prev.text === "=" || prev.kind === ";")) {
      // `AND 7639=(`, `pay=|| langCode == '`, `OR name = "`: a condition fragment opening the value or a
      // `name=value` pair, a column compared with what the query supplies.
      let j = i + 1;
      while (t[j]?.kind === "(") j++;
      const x = t[j];
      const y = t[j + 1];
      const operand = x !== undefined && (isLiteral(x) || (x.kind === "w" && !x.text.includes(" ")));
      if (
        operand &&
        y !== undefined &&
        // Symbols only: `or more. This is …` is prose whose words the lexer joins across the full stop.
        ((y.kind === "=" && !/^[A-Z]/.test(y.text)) || (y.kind === "o" && y.text !== "+" && y.text !== ":"))
      )
        report("sqli-fragment");
    } else if (a.kind === "=" && WORD_COMPARISONS.has(a.text)) {
      // `42 like 42`, `LIKE NULL`, `IS NULL`, `'1' not regexp '2'`, `something LIKE '`, `in (0,1)`.
      const constants = (!prev || (isLiteral(prev) && !prev.open)) && isLiteral(b) && !b!.open && !t[i + 2];
      // A pattern match left open on a column (`something LIKE '`); `Sign in "` is prose.
      const openQuote =
        plain &&
        a.text !== "IN" &&
        a.text !== "IS" &&
        prev?.kind === "w" &&
        b?.kind === "s" &&
        b.open &&
        b.text === "" &&
        !t[i + 2];
      if (constants || openQuote) report("sqli-fragment");
      if (a.text === "IN" && !prev && b?.kind === "(" && numberList(t, i + 2)) report("sqli-fragment");
      // `) like (`: a pattern match between two parenthesised expressions, the value opening with the
      // parenthesis that closes the application's.
      if (i === 1 && prev!.kind === ")" && b?.kind === "(" && a.text !== "IN" && a.text !== "IS")
        report("sqli-boolean-injection");
    } else if (
      a.kind === ";" &&
      (i === 0 || (i === 2 && prev?.text === "=")) &&
      b &&
      "kwf".includes(b.kind)
    ) {
      // A value (or `name=` pair) that opens with `;` and a statement: `;drop`, `;truncate[x`,
      // `;REPLACE(…) VALUES (…)`, `pay=;update users`.
      if (STACK_VERBS.has(b.text.split(" ")[0]!)) report("sqli-stacked");
    } else if (a.kind === "=" && a.text === "DIV" && b?.kind === "(" && t[i + 2]?.kind === "n" && !prev) {
      // PostgreSQL's `div(23, -2)` opening a value.
      report("sqli-db-function");
    } else if (a.kind === "n" && /^[0-9]+\.e$/i.test(a.text) && b && (b.kind === "(" || b.kind === ".")) {
      // MySQL reads `1.e` as a number and goes on: `1.e(ascii …`, `1.e.tables` hide keywords from filters.
      report("sqli-evasion");
    } else if (a.kind === "o" && a.text === "::" && b?.kind === "w" && prev && ")snwf".includes(prev.kind)) {
      // `'{}'::jsonb`, `password::int`, `f(x)::double precision`; not `Foo::Text(` or `Json::Int.x`.
      const after = t[i + 2];
      const type = b.text.split(" ")[0]!;
      if (
        CAST_TYPES.has(type) &&
        (!after || !"(.".includes(after.kind)) &&
        after?.text !== "!" &&
        after?.text !== "::"
      )
        report("sqli-pg-cast");
    }
  }
}

const COLLATIONS = /^(NOCASE|BINARY|RTRIM|UTF8|UTF16|UTF32|LATIN1|LATIN2|UCS2|ASCII|CP125|SQL_|C$|POSIX|U&)/;
const WORD_COMPARISONS = words("LIKE RLIKE REGEXP GLOB IS IN SOUNDS");
/** Whether from `j` the tokens are only a list of numbers, to the end (`0,1)`, `2147483647,-1`). */
function numberList(t: Folded[], j: number): boolean {
  for (let k = j; k < t.length; k++) if (!"n,)".includes(t[k]!.kind)) return false;
  return true;
}
const BREAKOUT_VERBS = words("SELECT INSERT DELETE DROP ALTER CREATE TRUNCATE EXEC EXECUTE DECLARE SHUTDOWN");
const STACK_VERBS = words(
  "SELECT INSERT UPDATE DELETE REPLACE DROP CREATE ALTER TRUNCATE EXEC EXECUTE DECLARE SHUTDOWN",
);
const DDL_VERBS = words("ADD CHANGE MODIFY DROP RENAME ALTER");
const ROUTINES = words("FUNCTION PROCEDURE TRIGGER");
const SQL_TYPES = words(
  "INT INTEGER BIGINT VARCHAR NVARCHAR CHAR NCHAR TEXT TABLE CURSOR SYSNAME BINARY VARBINARY",
);

/** Whether what follows `DECLARE @x` / `SET @x` (at `j`) completes a declaration or assignment. */
function declaration(t: Folded[], j: number): boolean {
  const c = t[j];
  return (
    !c ||
    c.kind === "k" ||
    c.kind === ";" ||
    c.kind === "=" ||
    c.text === ":=" ||
    SQL_TYPES.has(c.text.split(" ")[0]!)
  );
}

/** Probes anchored at a keyword: `SELECT` with a call, dynamic SQL, T-SQL variables, DDL, select-list tails. */
function keywordProbes(t: Folded[], i: number, report: Report): void {
  const a = t[i]!;
  const b = t[i + 1];
  const c = t[i + 2];
  switch (a.text) {
    case "SELECT": {
      // `select pg_sleep`, `SELECT CHAR(`, `select(user(`: a select list that starts with a call.
      const j = b?.kind === "(" ? i + 2 : i + 1;
      const f = t[j];
      const name = f && (f.kind === "w" || f.kind === "f" || f.kind === "k") ? f.text : "";
      if (DB_FUNCTIONS.has(name) || (SQL_FUNCTIONS.has(name) && t[j + 1]?.kind === "("))
        report("sqli-call-fragment");
      if (b?.kind === "(" && (c?.text === "CASE" || c?.text === "SELECT")) report("sqli-fragment");
      // `select * from`: prose does not select a star.
      if (b?.text === "*" && c?.text === "FROM") report("sqli-fragment");
      // `select 0x616263`: selecting a hex-encoded string.
      if (b?.kind === "n" && /^0x[0-9a-f]{4,}$/i.test(b.text)) report("sqli-fragment");
      for (let k = i + 2; k < t.length && k < i + 12; k++) {
        if (t[k]!.kind === "k" && (t[k]!.text === "GROUP BY" || t[k]!.text === "HAVING")) {
          report("sqli-select-list");
          break;
        }
      }
      break;
    }
    case "FROM": {
      // A query tail opening the value: `FROM t LIMIT`, `from `a`.`b` limit`, `FROM t WHERE x=…`.
      if (i !== 0 || b?.kind !== "w" || b.text.includes(" ")) break;
      const clause = c?.kind === "k" ? c.text : "";
      if (clause === "LIMIT" || clause === "GROUP BY" || clause === "ORDER BY") report("sqli-fragment");
      else if (clause === "WHERE" && t[i + 3]?.kind === "w" && t[i + 4]?.kind === "=")
        report("sqli-fragment");
      break;
    }
    case "ORDER BY":
    case "GROUP BY":
    case "HAVING":
      // The whole value is a clause probe: `ORDER BY`, `order by 3`, `HAVING 1=`.
      if (i === 0 && (!b || (isLiteral(b) && (!c || c.kind === "=") && !t[i + 3]))) report("sqli-fragment");
      break;
    case "EXEC":
    case "EXECUTE":
      // `EXECUTE IMMEDIATE '…'`, `exec (@sql)`, `exec master..xp_cmdshell`.
      if (
        b?.text === "IMMEDIATE" ||
        (b?.kind === "(" && c?.kind === "v") ||
        (b?.kind === "w" && /^(MASTER|XP_|SP_)/.test(b.text))
      )
        report("sqli-stacked");
      break;
    case "DECLARE":
    case "SET":
      // `DECLARE @x INT`, `SET @a = 1`: a T-SQL variable declared or assigned; a bare `declare @b` or
      // `SET @OLD_SQL_NOTES` is weaker (chat says "declare @someone"), and `declare @john the winner` prose.
      if (b?.kind !== "v") break;
      if (
        t[i + 2] &&
        declaration(t, i + 2) &&
        (a.text === "DECLARE" || t[i + 2]!.kind === "=" || t[i + 2]!.text === ":=")
      )
        report("sqli-stacked");
      else if (!t[i + 2] || t[i + 2]!.kind === ";") report("sqli-fragment");
      break;
    case "DELETE":
      // `DELETE FROM users;--`: a whole statement, terminated or cut off.
      if (b?.text === "FROM" && c?.kind === "w" && (c.commentAfter || t[i + 3]?.kind === ";"))
        report("sqli-fragment");
      break;
    case "ALTER":
    case "CREATE": {
      if (b?.text !== "TABLE" && !ROUTINES.has(b?.text ?? "")) break;
      const parts = c?.kind === "w" || c?.kind === "f" ? c.text.split(" ") : [];
      const d = t[i + 3];
      const verb = DDL_VERBS.has(parts[1] ?? "") || (d?.kind === "k" && DDL_VERBS.has(d.text));
      // `ALTER TABLE t ADD …`, `CREATE TABLE t (`, `CREATE FUNCTION f (`.
      if ((a.text === "ALTER" && verb) || (a.text === "CREATE" && parts.length === 1 && d?.kind === "("))
        report("sqli-ddl");
      break;
    }
    case "DROP":
    case "TRUNCATE":
      // `DROP sampletable;--`, `DR/**/OP/*x*/sampletable`: a drop of a bare name, cut off or disguised.
      if (i === 0 && b?.kind === "w" && !b.text.includes(" ") && (a.commentAfter || c?.kind === ";"))
        report("sqli-fragment");
      break;
    case "WHEN":
      // `) when 234 then`: the branch of a CASE expression.
      if (t[i - 1]?.kind === ")" && isLiteral(b) && c?.text === "THEN") report("sqli-fragment");
      break;
    case "CASE": {
      // `CASE WHEN … THEN`: a conditional expression when it opens the value or an expression; after a
      // word it is prose ("in case when … then").
      if (b?.text !== "WHEN") break;
      const p = t[i - 1];
      const opens = !p || "(,lo;".includes(p.kind) || (p.kind === "k" && p.text !== "AS");
      for (let k = i + 2; k < t.length && k < i + 10; k++) {
        if (t[k]!.text === "THEN" && t[k + 1]) {
          if (opens) report("sqli-boolean-injection");
          break;
        }
      }
      break;
    }
    case "AS": {
      // `…) AS alias FROM`, `` `x` AS `y` FROM ``, `1234 AS "foobar" FROM`: the tail of a select list.
      const p = t[i - 1];
      const alias =
        b !== undefined && (b.kind === "w" || b.kind === "s" || (b.kind === "k" && b.text !== "FROM"));
      // After a bare number only a quoted alias: "rated 5 as great from critics" is prose.
      if (p && ")sn".includes(p.kind) && alias && c?.text === "FROM" && (p.kind !== "n" || b.kind === "s"))
        report("sqli-select-list");
      break;
    }
    default:
  }
}

/** Raw-text probes the tokeniser does not see: NoSQL operators and MySQL executable comments. */
function rawProbes(value: string, report: Report, maybe: number): void {
  // Each probe first looks for a character it needs (`$`, `(`, `/*!`, a digit), which lower-casing
  // neither adds nor removes; only then is the value lower-cased.
  let lower = "";
  if ((maybe & MAYBE_MARKS) !== 0 && value.includes("$")) {
    lower = value.toLowerCase();
    for (let i = lower.indexOf("$"); i >= 0; i = lower.indexOf("$", i + 1)) {
      let j = i + 1;
      while (j < lower.length && lower.charCodeAt(j) >= 97 && lower.charCodeAt(j) <= 122) j++;
      if (j === i + 1 || !MONGO_OPERATORS.has(lower.slice(i + 1, j))) continue;
      const before = i === 0 ? "" : lower[i - 1]!;
      const after = j === lower.length ? "" : lower[j]!;
      const whole = before === "" && after === "";
      if (whole || ("[{,\"' \t".includes(before) && after !== "" && ":]\"'".includes(after))) {
        report("sqli-nosql");
        break;
      }
    }
  }
  // Numbers that hang or overflow parsers: the double that looped PHP's and Java's strtod, 2^31, 2^32…
  // Both shapes are ASCII digits, signs, `.` and `e`, so the value's own case will do (`/i` for the `e`).
  if (value.length <= 40) {
    const trimmed = value.trim();
    // Both open with a sign or a digit (the float with a 2).
    const c = trimmed.charCodeAt(0);
    if ((c === 50 || c === 43 || c === 45) && FLOAT_DOS.test(trimmed)) report("sqli-float-dos");
    if ((c === 45 || isDigitCode(c)) && OVERFLOW_NUMBERS.has(trimmed)) report("sqli-int-overflow");
  }
  // `$where` sleeps: a JavaScript busy loop on the clock.
  // No other character lower-cases to an ASCII letter of these words (`İ` adds a dot after its `i`),
  // so an ASCII-caseless search finds what the lower-cased value holds.
  if ((maybe & MAYBE_PAREN) !== 0 && value.includes("(") && NEW_DATE.test(value) && BUSY_LOOP.test(value))
    report("sqli-nosql");
  if ((maybe & MAYBE_COMMENT) !== 0 && value.includes("/*!")) {
    if (lower === "") lower = value.toLowerCase();
    for (let i = lower.indexOf("/*!"); i >= 0; i = lower.indexOf("/*!", i + 3)) {
      let j = i + 3;
      while (j < lower.length && isDigitCode(lower.charCodeAt(j))) j++;
      const digits = j - i - 3;
      let k = j;
      while (k < lower.length && lower.charCodeAt(k) >= 97 && lower.charCodeAt(k) <= 122) k++;
      if (digits === 5 || SQL_WORDS.has(lower.slice(j, k).toUpperCase())) {
        report("sqli-evasion");
        break;
      }
    }
  }
}

const NEW_DATE = /new date/i;
const BUSY_LOOP = /while ?\(/i;
const FLOAT_DOS = /^[+-]?2\.225073858507201\d*e-0*308$/i;
const OVERFLOW_NUMBERS = words(
  "2147483648 -2147483649 4294967295 4294967296 9223372036854775808 -9223372036854775809 18446744073709551615 18446744073709551616",
);
// Django-style ORM field lookups (`field__lookup`): a client that names them in parameters can filter on
// fields it should not see (`password__startswith=a`), and across relations (`user__profile__…`).
const ORM_LOOKUPS = new Set(
  (
    "exact iexact contains icontains in gt gte lt lte startswith istartswith endswith iendswith range date " +
    "year month day week week_day quarter time hour minute second isnull regex iregex has_key has_keys " +
    "has_any_keys contained_by overlap search trigram_similar unaccent"
  ).split(" "),
);
const isIdentCode = (c: number): boolean =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;

/** ORM lookups in the value: the longest traversal decides between a relation walk and a plain filter. */
function ormLookups(value: string, report: Report, maybe: number): void {
  if ((maybe & MAYBE_MARKS) === 0 || !value.includes("__")) return;
  let i = 0;
  while (i < value.length) {
    if (!isIdentCode(value.charCodeAt(i))) {
      i++;
      continue;
    }
    let j = i;
    while (j < value.length && isIdentCode(value.charCodeAt(j))) j++;
    const parts = value.slice(i, j).split("__");
    // `__proto__`, `_x__` leave empty parts: dunder names, not lookups.
    if (parts.length >= 2 && parts.every((p) => p !== "" && !p.startsWith("_") && !p.endsWith("_"))) {
      if (ORM_LOOKUPS.has(parts[parts.length - 1]!.toLowerCase()))
        report(parts.length >= 3 ? "sqli-orm-lookup" : "sqli-orm-filter");
    }
    i = j;
  }
}

const isDigitCode = (c: number): boolean => c >= 48 && c <= 57;

/** Whether an error-based function's arguments (from `j`, a few tokens) reach for data: a subquery, @@var, version(), 0x…. */
function probesInside(t: Folded[], j: number): boolean {
  for (let k = j; k < j + 16 && k < t.length; k++) {
    const x = t[k]!;
    if (
      x.kind === "v" ||
      (x.kind === "k" && x.text === "SELECT") ||
      (x.kind === "f" && FINGERPRINT_FUNCTIONS.has(x.text))
    )
      return true;
    if (x.kind === "n" && (x.text.startsWith("0x") || x.text.startsWith("0X"))) return true;
    if (x.kind === "f" && x.text === "CONCAT") return true;
  }
  return false;
}

const CONTEXTS: readonly QuoteContext[] = ["", "'", '"', "`"];

// The prefilter: most values (names, numbers, e-mail addresses, browser headers) can match no token
// rule, and one pass over their characters shows it without tokenising. It reads the value as the
// lexer does in the plain context (the only one a value without quotes gets), keeping only each
// token's coarse class, and gives up (the full scan runs) at anything a rule could build on:
//  - quotes and backticks (strings, the quoted readings), `[` (identifiers), `@@` (system variables),
//    `::` (casts), `||` and `&&` (logic), a comment with code after it (it stops the fold joining
//    tokens), a number ending in `.e` (`1.e(`);
//  - a word the rules name anywhere (HOT): keywords, logic and set operators, TRUE/FALSE/NULL, DIV and
//    SOUNDS, statement verbs, catalogues, procedures, the owners of dotted names (`dbms_lock.`, `sys.`,
//    `db.`), and the catalogue prefixes (`information_schema…`);
//  - a function name (CALL) before `(`: rules only look at function names in calls;
//  - a comparison (`=`, `<>`, `like`, …) that opens the value or follows a number, a variable or `)`:
//    the constant comparisons, `f(1=1`, `1 like 1`, `) like (` all need one;
//  - a value that opens with a number, `)` or a sign (an injection point, "strong") and has a
//    comparison, a `(` or a comment: the conditions and stacked calls after it need one;
//  - a comment at the end after a number, variable or `)` when a call is possible (comment endings);
//  - runs of words and dots over 64 characters, which the fold cuts (a cut word can be a call's name).
// Without any of these, every rule's first condition fails: see `anchored`, `unanchored`, `probes`.
const HOT = 1;
const CALL = 2;
const COMPARES = 4;
const WORD_FLAGS = new Map<string, number>();
for (const word of LEXER_WORDS) WORD_FLAGS.set(word, classifyWord(word) === "=" ? COMPARES : HOT);
const flag = (word: string, bit: number): void => {
  WORD_FLAGS.set(word, (WORD_FLAGS.get(word) ?? 0) | bit);
};
for (const word of [
  "DIV",
  "SOUNDS",
  "SYS",
  "MASTER",
  "DB",
  ...STACK_VERBS,
  ...STATEMENT_KEYWORDS,
  ...PROCEDURES,
])
  flag(word, HOT);
// A dotted name (`dbms_lock.sleep`, `mysql.user`) can only be read with its first word.
const owner = (name: string): string => (name.includes(".") ? name.slice(0, name.indexOf(".")) : name);
for (const word of CATALOGUES) flag(owner(word), HOT);
for (const word of [...KNOWN_FUNCTIONS, ...KEYWORD_FUNCTIONS, ...SQL_FUNCTIONS, ...DB_FUNCTIONS])
  flag(owner(word), owner(word) === word ? CALL : HOT);
const PLAIN_PREFIXES = CATALOGUE_PREFIXES.filter((p) => !p.includes("."));
const MIN_PREFIX = Math.min(...PLAIN_PREFIXES.map((p) => p.length));

// An ASCII word is first looked up by its shape: its length, first two and last characters, hashed
// into a bit table. Only a word whose shape a listed word has (few others do) is upper-cased and
// looked up for real. Word characters fold into 6 bits: `$` 4, digits 16–25, letters 33–58, `_` 63.
const fold6 = (c: number): number => (c >= 97 ? c - 64 : c - 32);
const wordShape = (length: number, first: number, second: number, last: number): number =>
  Math.imul((length << 18) | (fold6(first) << 12) | (fold6(second) << 6) | fold6(last), 0x9e3779b1) >>> 16;
const MAX_LISTED = Math.max(...[...WORD_FLAGS.keys()].map((w) => w.length));
const LISTED_SHAPES = new Uint8Array(1 << 16);
for (const word of WORD_FLAGS.keys()) {
  if (word.length < 2 || !/^[A-Z0-9_$]+$/.test(word)) continue;
  LISTED_SHAPES[
    wordShape(word.length, word.charCodeAt(0), word.charCodeAt(1), word.charCodeAt(word.length - 1))
  ] = 1;
}
// The catalogue prefixes have a `_` (`pg_user…`), or else open with one of these three letters (`sys…`).
const prefixHead = (a: number, b: number, c: number): number => (fold6(a) << 12) | (fold6(b) << 6) | fold6(c);
const UNMARKED_PREFIXES = PLAIN_PREFIXES.filter((p) => !p.includes("_"));
const PREFIX_HEADS = new Set(
  UNMARKED_PREFIXES.map((p) => prefixHead(p.charCodeAt(0), p.charCodeAt(1), p.charCodeAt(2))),
);
// Their first letters, both cases, as a quick first test.
const PREFIX_FIRSTS = new Uint8Array(128);
for (const p of UNMARKED_PREFIXES) PREFIX_FIRSTS[p.charCodeAt(0)] = PREFIX_FIRSTS[p.charCodeAt(0) | 32] = 1;

// Coarse token classes of the prefilter.
const NONE = 0;
const WORD = 1;
const NUMBER = 2;
const VARIABLE = 3;
const COMPARISON = 4;
const SIGN = 5;
const OPEN = 6;
const CLOSE = 7;
const DOT = 8;
const OTHER = 9;

/** The flags of the word `from`…`to`, or -1 when it is hot. */
function wordFlags(value: string, from: number, to: number): number {
  const upper = value.slice(from, to).toUpperCase();
  const flags = WORD_FLAGS.get(upper) ?? 0;
  if ((flags & HOT) !== 0) return -1;
  if (upper.length >= MIN_PREFIX && PLAIN_PREFIXES.some((p) => upper.startsWith(p))) return -1;
  return flags;
}

// Character classes of the prefilter's reading (ASCII; above it everything is a word character but
// U+00A0, a space where a token may start).
const SPACE_CHAR = 1;
const WORD_CHAR = 2;
const DIGIT_CHAR = 3;
// Quotes, backticks and `[`: strings, quoted readings and identifiers are for the full scan.
const STOP_CHAR = 4;
const PUNCT_CHAR = 5;
// Characters that start a comment, a variable, a number (`.5`) or a multi-character operator.
const MULTI_CHAR = 6;
const OPERATOR_CHAR = 0;
// `$` and `_`: word characters the raw probes look for (`$ne`, `field__lookup`).
const MARK_CHAR = 7;
const CHAR_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (isSpace(c)) CHAR_CLASS[c] = SPACE_CHAR;
  else if (isDigit(c)) CHAR_CLASS[c] = DIGIT_CHAR;
  else if (isWordChar(c)) CHAR_CLASS[c] = WORD_CHAR;
}
for (const ch of "'\"`[") CHAR_CLASS[ch.charCodeAt(0)] = STOP_CHAR;
for (const ch of "(),;") CHAR_CLASS[ch.charCodeAt(0)] = PUNCT_CHAR;
for (const ch of "<>!=|&:-@?#/.") CHAR_CLASS[ch.charCodeAt(0)] = MULTI_CHAR;
for (const ch of "$_") CHAR_CLASS[ch.charCodeAt(0)] = MARK_CHAR;
// Inside a word: 1 a word character, 2 `$` or `_`, 0 the end of the word.
const WORDISH = CHAR_CLASS.map((k) => (k === WORD_CHAR || k === DIGIT_CHAR ? 1 : k === MARK_CHAR ? 2 : 0));

// What the prefilter tells the raw probes about a value it cleared: which characters they look for
// may be in it. The full scan's values get all of them.
const MAYBE_MARKS = 1;
const MAYBE_PAREN = 2;
const MAYBE_COMMENT = 4;
const MAYBE_ALL = 7;
const HOT_VALUE = -1;

/**
 * HOT_VALUE when a token rule may match `value` (the full scan runs), else which MAYBE_ characters
 * for the raw probes it may hold.
 */
function prefilter(value: string): number {
  const n = value.length;
  // A long value's tail is scanned on its own, where a word may start mid-way: leave it to the scan.
  if (n > TAIL_CHARS) return HOT_VALUE;
  let marks = false;
  let variableOwns = false;
  let first = NONE;
  let prev = NONE;
  let sawComparison = false;
  let sawOpen = false;
  let endComment = false;
  let call = false;
  // Length of the current run of words, dots and variables the fold would join into one name.
  let name = 0;
  let i = 0;
  while (i < n) {
    const c = value.charCodeAt(i);
    const cls = c < 128 ? CHAR_CLASS[c]! : c === 160 ? SPACE_CHAR : WORD_CHAR;
    if (cls === SPACE_CHAR) {
      i++;
      continue;
    }
    const start = i;
    let kind = NONE;
    let flags = 0;
    let wide = false;
    let word = cls === WORD_CHAR || cls === MARK_CHAR;
    if (cls === DIGIT_CHAR || (c === 46 && isDigit(value.charCodeAt(i + 1)))) {
      let j = i + 1;
      while (j < n && isDigit(value.charCodeAt(j))) j++;
      const d = value.charCodeAt(j);
      const letter = d | 32;
      if (c !== 46 && d !== 46 && letter !== 101 && letter !== 120 && letter !== 98) {
        // Plain digits (no `.`, exponent, `0x`, `0b`): a number, or a word if letters follow (`2aa5`).
        if (j < n && isWordChar(d)) word = true;
        else {
          i = j;
          kind = NUMBER;
        }
      } else {
        const end = numberEnd(value, i);
        if (end < 0) word = true;
        else {
          // `1.e(`, `1.e.tables`: MySQL's lenient number hiding what follows from filters.
          if ((value.charCodeAt(end - 1) | 32) === 101 && value.charCodeAt(end - 2) === 46) return HOT_VALUE;
          i = end;
          kind = NUMBER;
        }
      }
    }
    if (word) {
      wide = c >= 128;
      let marked = cls === MARK_CHAR;
      let last = c;
      for (i++; i < n; i++) {
        const w = value.charCodeAt(i);
        if (w >= 128) wide = true;
        else {
          const k = WORDISH[w]!;
          if (k === 0) break;
          if (k === 2) marked = true;
        }
        last = w;
      }
      const length = i - start;
      if (length > 64) return HOT_VALUE;
      if (marked) marks = true;
      // Upper-casing keeps an ASCII word's length and shape, and a single character is no listed
      // word: only a word that shares its shape with a listed one, or could start with a catalogue
      // prefix, is looked up.
      const second = value.charCodeAt(start + 1);
      if (
        wide ||
        (length >= 2 && length <= MAX_LISTED && LISTED_SHAPES[wordShape(length, c, second, last)] === 1) ||
        (length >= MIN_PREFIX &&
          (marked ||
            (PREFIX_FIRSTS[c] === 1 && PREFIX_HEADS.has(prefixHead(c, second, value.charCodeAt(start + 2))))))
      )
        flags = wordFlags(value, start, i);
      if (flags < 0) return HOT_VALUE;
      kind = (flags & COMPARES) !== 0 ? COMPARISON : WORD;
    } else if (kind === NUMBER) {
      // The number was read above.
    } else if (cls === PUNCT_CHAR) {
      i++;
      kind = c === 40 ? OPEN : c === 41 ? CLOSE : OTHER;
    } else if (cls === OPERATOR_CHAR) {
      i++;
      kind = c === 43 || c === 126 ? SIGN : OTHER;
    } else if (cls === STOP_CHAR) {
      return HOT_VALUE;
    } else {
      const next = value.charCodeAt(i + 1);
      if (c === 64 && next === 64) return HOT_VALUE;
      if ((c === 45 && next === 45) || c === 35 || (c === 47 && next === 42)) {
        // A comment that runs to the end only marks the token before it; `/*!` is code to MySQL.
        const runsOn =
          c === 47 ? value.charCodeAt(i + 2) === 33 || value.includes("*/", i + 2) : value.includes("\n", i);
        if (runsOn) return HOT_VALUE;
        // Quotes inside the comment still open the quoted readings.
        for (let j = i + 1; j < n; j++) {
          const q = value.charCodeAt(j);
          if (q === 39 || q === 34 || q === 96) return HOT_VALUE;
        }
        endComment = true;
        break;
      }
      if (c === 64 && next !== 62 && next !== 63) {
        // `@name`, read as the lexer reads it (its text concerns no rule but `@@`).
        for (i++; i < n; i++) {
          const w = value.charCodeAt(i);
          if (!isWordChar(w) && w !== 46) break;
          if (w === 36 || w === 95) marks = true;
        }
        kind = VARIABLE;
      } else if (c === 46) {
        i++;
        kind = DOT;
      } else {
        const op = operatorAt(value, i);
        if (op.length > 1) {
          if (op === "::" || op === "||" || op === "&&") return HOT_VALUE;
          kind = operatorKind(op) === "=" ? COMPARISON : OTHER;
        } else if (c === 61 || c === 60 || c === 62) kind = COMPARISON;
        else if (c === 45 || c === 33) kind = SIGN;
        else kind = OTHER;
        i += op.length;
      }
    }
    // `@a .b`: the fold joins a name after dots to a variable that owns them, a literal too.
    if (kind === WORD && prev === DOT && variableOwns) kind = VARIABLE;
    variableOwns = kind === VARIABLE || (kind === DOT && variableOwns);
    if (kind === COMPARISON) {
      if (prev === NONE || prev === NUMBER || prev === VARIABLE || prev === CLOSE) return HOT_VALUE;
      sawComparison = true;
    } else if (kind === OPEN) {
      if (call) return HOT_VALUE;
      sawOpen = true;
    }
    call = (flags & CALL) !== 0;
    if (kind === WORD || kind === DOT || kind === VARIABLE) {
      // Upper-casing can make a non-ASCII word up to three times as long (`ﬃ` is `FFI`).
      name += (wide ? 3 : 1) * (i - start) + 1;
      if (name > 64) return HOT_VALUE;
    } else name = 0;
    if (first === NONE) first = kind;
    prev = kind;
  }
  const strong = first === NUMBER || first === CLOSE || first === SIGN;
  if (strong && (sawComparison || sawOpen || endComment)) return HOT_VALUE;
  if (endComment && sawOpen && (prev === NUMBER || prev === CLOSE || prev === VARIABLE)) return HOT_VALUE;
  // A comment's text was not looked at.
  if (endComment) return MAYBE_ALL;
  return (marks ? MAYBE_MARKS : 0) | (sawOpen ? MAYBE_PAREN : 0);
}

// The rules found so far for the value being inspected (one closure for all calls); most values
// find none, and share this empty list.
const NONE_FOUND: readonly RuleId[] = [];
let foundRules = NONE_FOUND as RuleId[];
const report: Report = (rule) => {
  if (foundRules === NONE_FOUND) foundRules = [rule];
  else if (!foundRules.includes(rule)) foundRules.push(rule);
};

/** Finds the SQL injection rules a value matches, across the three quote contexts. */
export function classifySql(value: string): RuleId[] {
  const rules = collect(value);
  return rules === NONE_FOUND ? [] : rules;
}

/** `classifySql`, but NONE_FOUND (not to be changed) when nothing matches. */
function collect(value: string): RuleId[] {
  foundRules = NONE_FOUND as RuleId[];
  // The lexer stops after MAX_TOKENS; padding must not push a payload out of sight, so a long value's
  // tail is inspected too. Starting the tail "inside a literal" keeps the quote contexts meaningful.
  const maybe = prefilter(value);
  if (maybe === HOT_VALUE && scan(value, report) && value.length > TAIL_CHARS)
    scan(value.slice(-TAIL_CHARS), report);
  rawProbes(value, report, maybe === HOT_VALUE ? MAYBE_ALL : maybe);
  ormLookups(value, report, maybe === HOT_VALUE ? MAYBE_ALL : maybe);
  return foundRules;
}

const MAX_TOKENS = 2048;
// Every token takes at least one character, so the tail can never be cut short itself.
const TAIL_CHARS = MAX_TOKENS;

/** Runs every rule in the three quote contexts; says whether any token stream was cut short. */
function scan(value: string, report: Report): boolean {
  let truncated = false;
  for (const ctx of CONTEXTS) {
    // A quote context only differs from the plain one if the value contains that quote.
    if (ctx !== "" && !value.includes(ctx)) continue;
    const tokens = lexSql(value, ctx, MAX_TOKENS);
    if (tokens.length >= MAX_TOKENS) truncated = true;
    const folded = fold(tokens);
    // Inside a `…` identifier only the probes apply: prose and Markdown pair backticks around code,
    // and a breakout from an identifier is rare next to one from a literal.
    if (ctx !== "`") {
      anchored(folded, ctx, report);
      unanchored(folded, report);
    }
    probes(folded, ctx, report);
  }
  return truncated;
}

/** The SQL injection detector: token-sequence rules, see `SQLI_RULES`. */
export const sqliDetector: Detector = {
  name: "sqli",
  inspect(target: Target): Detection[] {
    // URL paths name things in prose (`/wiki/Round_(album)`) and broken CSS links (`font.ttf) format(`).
    const path = target.name === "REQUEST_PATH" || target.name === "REQUEST_FILENAME";
    const found = collect(target.value);
    if (found.length === 0) return [];
    // A tautology is the stronger reading of the same breakout: one rule, one exclusion to write.
    const tautology = found.includes("sqli-tautology");
    const rules = found.filter(
      (rule) => !(path && rule === "sqli-function-name") && !(tautology && rule === "sqli-logic-breakout"),
    );
    return rules.map((rule) => {
      const info = SQLI_RULES[rule];
      return {
        rule,
        tags: ["attack-sqli", info.tag],
        paranoia: info.paranoia,
        severity: info.severity,
        target: target.name,
      };
    });
  },
};
