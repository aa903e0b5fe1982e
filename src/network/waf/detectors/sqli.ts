// SQL injection by structure, not by pattern: the value is tokenised as SQL three times (as is, and as
// if it began inside a '…' or "…" literal, the two ways an application usually embeds it), each token
// stream is folded into a short sequence of token classes, and rules look for shapes that only make
// sense when the value leaves its literal and goes on as SQL. Rules and token classes are our own.
import type { Detection, Detector, ParanoiaLevel, Severity, Target } from "../types.ts";
import { lexSql, type QuoteContext, type SqlToken } from "./sqli-lexer.ts";
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
  | "sqli-time-function"
  | "sqli-fingerprint"
  | "sqli-comment-ending";

interface RuleInfo {
  paranoia: ParanoiaLevel;
  severity: Severity;
  tag: string;
}

/** Every rule this detector reports: PL1 for structures benign text does not produce, PL2 for weaker signals. */
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
  "sqli-subquery": { paranoia: 2, severity: "error", tag: "sqli-statement" },
  "sqli-boolean-expression": { paranoia: 2, severity: "error", tag: "sqli-blind" },
  "sqli-time-function": { paranoia: 2, severity: "error", tag: "sqli-blind" },
  "sqli-fingerprint": { paranoia: 2, severity: "warning", tag: "sqli-probe" },
  "sqli-comment-ending": { paranoia: 2, severity: "warning", tag: "sqli-auth-bypass" },
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
    if (isLiteral(c)) return "tautology";
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
      return b?.kind === "v";
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
      if (EQUALITY.has(head.text)) report(loud ? "sqli-tautology" : "sqli-boolean-expression");
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
      report("sqli-boolean-expression");
    }
  } else if (head.kind === "k" && CLAUSES.has(head.text)) {
    const arg = t[at + 1];
    if (quoted || (strong && (isLiteral(arg) || head.commentAfter || arg?.commentAfter)))
      report("sqli-clause-injection");
  } else if (quoted && head.kind === "k" && STATEMENT_KEYWORDS.has(head.text)) {
    report("sqli-statement");
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
        t[j]?.text === "SELECT" && !(t[j + 1]?.kind === "w" && !t[j + 2] && !t[j + 1]!.commentAfter);
      if (select || t[j]?.text === "VALUES") report("sqli-union");
    } else if (a.kind === ";") {
      if (statement(t, i + 1, true)) report("sqli-stacked");
      else if (statement(t, i + 1, false) || (b?.kind === "k" && STATEMENT_KEYWORDS.has(b.text)))
        report("sqli-statement");
    } else if (a.kind === "f" && b?.kind === "(") {
      const arg = t[i + 2];
      // `IIF(1=1,…)`, `ELT(5=5,…)`: a constant condition as an argument is an oracle, not data.
      if (isLiteral(arg) && t[i + 3]?.kind === "=" && isLiteral(t[i + 4])) report("sqli-boolean-injection");
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
        if (t[i - 1]?.kind === "(" && b && b.kind !== ")") report("sqli-subquery");
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
      report("sqli-boolean-expression");
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

const CONTEXTS: readonly QuoteContext[] = ["", "'", '"'];

/** Finds the SQL injection rules a value matches, across the three quote contexts. */
export function classifySql(value: string): RuleId[] {
  const found = new Set<RuleId>();
  const report: Report = (rule) => found.add(rule);
  // The lexer stops after MAX_TOKENS; padding must not push a payload out of sight, so a long value's
  // tail is inspected too. Starting the tail "inside a literal" keeps the quote contexts meaningful.
  if (scan(value, report) && value.length > TAIL_CHARS) scan(value.slice(-TAIL_CHARS), report);
  return [...found];
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
    anchored(folded, ctx, report);
    unanchored(folded, report);
  }
  return truncated;
}

/** The SQL injection detector: token-sequence rules, see `SQLI_RULES`. */
export const sqliDetector: Detector = {
  name: "sqli",
  inspect(target: Target): Detection[] {
    return classifySql(target.value).map((rule) => {
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
