import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { lexSql, type QuoteContext } from "./sqli-lexer.ts";
import { SQLI_RULES, classifySql, sqliDetector } from "./sqli.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules a value matches at paranoia level `pl` or below. */
const rulesAt = (value: string, pl = 1): string[] =>
  classifySql(value).filter((r) => SQLI_RULES[r].paranoia <= pl);

describe("lexSql", () => {
  const kinds = (s: string, q: QuoteContext = ""): string =>
    lexSql(s, q)
      .map((t) => t.kind)
      .join("");

  it("tokenises strings, numbers, operators, variables and comments", () => {
    expect(kinds("SELECT 'it''s', \"a\\\"b\", 0x7e, 1.5e3, @@version FROM t -- x")).toBe("ks,s,n,n,vkwc");
    expect(kinds("a<=>b || c != d <> e")).toBe("w=wlw=w=w");
    expect(kinds("`weird name` [x] @v # tail")).toBe("wwvc");
  });
  it("starts inside a literal in a quote context", () => {
    const tokens = lexSql("admin' OR 1=1", "'");
    expect(tokens[0]).toMatchObject({ kind: "s", text: "admin", open: false });
    expect(kinds("no quote here", "'")).toBe("s");
  });
  it("tokenises the content of MySQL version comments and glues split keywords", () => {
    expect(lexSql("/*!50000SELECT*/ 1").map((t) => t.text)).toEqual(["SELECT", "1"]);
    expect(lexSql("UN/**/ION SEL/*x*/ECT").map((t) => t.text)).toEqual(["UNION", "SELECT"]);
    expect(lexSql("DROP/**/TABLE").map((t) => t.text)).toEqual(["DROP", "/*", "TABLE"]);
  });
  it("skips an unclosed identifier quote and can start inside a backtick identifier", () => {
    expect(lexSql(";truncate[xx").map((t) => t.text)).toEqual([";", "TRUNCATE", "XX"]);
    expect(kinds("` AS `x` from", "`")).toBe("skwk");
    expect(kinds("`name` x")).toBe("ww");
  });
  it("stops after the token limit", () => {
    expect(lexSql("a ".repeat(10_000), "", 100)).toHaveLength(100);
  });
});

describe("sqliDetector: attacks", () => {
  const attacks: [string, string][] = [
    ["1 OR 1=1", "sqli-tautology"],
    ["' OR 'a'='a", "sqli-tautology"],
    ["x' or 1=1--", "sqli-tautology"],
    ['1" OR "1"="1', "sqli-tautology"],
    ["-4340')) or 8571=8571#", "sqli-tautology"],
    ["' Or\t1\n=\n1 --", "sqli-tautology"],
    ["'/**/OR/**/1/**/=/**/1#", "sqli-tautology"],
    ["x' OR '1", "sqli-tautology"],
    ["admin'--", "sqli-comment-truncation"],
    ["admin')#", "sqli-comment-truncation"],
    ["admin'/*", "sqli-comment-truncation"],
    ["1 UNION SELECT username, password FROM users", "sqli-union"],
    ["-1' UnIoN aLl SeLeCt 1,2,version()-- -", "sqli-union"],
    ["1 UN/**/ION SEL/**/ECT 1,2", "sqli-union"],
    ["1 /*!50000UNION*/ /*!50000SELECT*/ 1,2", "sqli-union"],
    ["1'/*!UNION*//*!SELECT*/1#", "sqli-union"],
    ["1+UNION+ALL+SELECT+NULL,NULL--", "sqli-union"],
    ["1%0aunion%0aselect".replace(/%0a/g, "\n"), "sqli-union"],
    ["1;DROP TABLE users", "sqli-stacked"],
    ["1'; DROP TABLE users--", "sqli-stacked"],
    ["'; exec master..xp_cmdshell 'ping x'--", "sqli-stacked"],
    ["1); SHUTDOWN --", "sqli-stacked"],
    ["SLEEP(5)", "sqli-time-blind"],
    ["1' AND SLEEP(5)#", "sqli-time-blind"],
    ["1) or pg_sleep(5)--", "sqli-time-blind"],
    ["1; WAITFOR DELAY '0:0:5'--", "sqli-time-blind"],
    ["1 AND BENCHMARK(5000000,MD5(1))", "sqli-time-blind"],
    ["1 AND 1=CONVERT(int,@@version)", "sqli-function-probe"],
    ["' and extractvalue(1,concat(0x7e,(select user())))-- ", "sqli-function-probe"],
    ["1' and updatexml(1,concat(0x7e,database()),1)#", "sqli-boolean-injection"],
    ["1' AND (SELECT 1 FROM users LIMIT 1)='1", "sqli-boolean-injection"],
    ["1'||(select 'a' where 1=1)||'", "sqli-boolean-injection"],
    ["iif(2976=2976,1,1/0)", "sqli-boolean-injection"],
    ["1' ORDER BY 5--", "sqli-clause-injection"],
    ["1) as x where 4039=4039 and 7533=7533--", "sqli-tautology"],
    ["' union select 1, load_file('/etc/passwd')#", "sqli-file-access"],
    ["1 into outfile '/var/www/shell.php'", "sqli-file-access"],
    ["admin' || 'x' = 'x", "sqli-tautology"],
    ["0x61646d696e' or 0x31=0x31#", "sqli-tautology"],
    ["N'a' OR N'b'=N'b'--", "sqli-tautology"],
    ["' or ''='", "sqli-tautology"],
    ["' or true--", "sqli-tautology"],
    ["'=' 'or'", "sqli-tautology"],
    ["1 and (select 1 from (select(sleep(5)))a)", "sqli-time-blind"],
    ["' AND ASCII(SUBSTRING((SELECT password FROM users LIMIT 1),1,1))>64--", "sqli-boolean-injection"],
    ["';copy (select '') to program 'nslookup x.net'--", "sqli-stacked"],
    ["1' in boolean mode) order by 1#", "sqli-clause-injection"],
    ["(8266=8266)*9900", "sqli-boolean-injection"],
    // A backslash before the breakout quote must not hide the payload (escaping bypasses).
    ["1\\' union select 1,2--", "sqli-union"],
    ["admin\\'--", "sqli-comment-truncation"],
    ["1e0union select 1,2", "sqli-union"],
    // String concatenation to dodge literal matching.
    ["' or 'ab'='a'+'b", "sqli-tautology"],
    ["' or 'ab'='a' 'b", "sqli-tautology"],
    ["' or 'ab'=concat('a','b')--", "sqli-boolean-injection"],
  ];
  it.each(attacks)("%s → %s at PL1", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("reports rule id, tags, paranoia, severity and the target name", () => {
    const [d] = sqliDetector.inspect({ name: "ARGS:id", value: "1 UNION SELECT 1" });
    expect(d).toEqual({
      rule: "sqli-union",
      tags: ["attack-sqli", "sqli-union"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:id",
    });
  });
});

describe("sqliDetector: benign look-alikes", () => {
  const benign = [
    "O'Brien",
    "it's a select few",
    "Tom & Jerry -- the movie",
    "jane.doe+news@example.com",
    "1-2-3",
    "order by price",
    "union was a great select",
    "Rock 'n' roll or 1960s pop",
    "I'd like 2 or 3 items; thanks",
    '{"name": "O\'Brien", "tags": ["a", "b"], "n": 1}',
    "aGVsbG8gd29ybGQ=",
    "U0VMRUNUICogRlJPTSB1c2Vycw==",
    "12:30:45",
    "http://example.com/docs#section-2",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "what's the difference between 'and' and 'or'?",
    "drop me a line; update: I moved",
    "time.sleep(5) in my script",
    "5' 11\" tall",
    // Apostrophes put the rest of a sentence "outside a literal" in the quote context: prose must stay prose.
    "It's cheap and good (really)",
    "O'Reilly and Sons (UK)",
    "Dave's price(s) and item(s)",
    "it's 1 or 2",
    "Mary's union select committee",
    "I'm here; select a size",
    "2+2=4",
    "it's true or false",
    "rock'n'roll; drop by anytime",
    "We've: \"and\" 'or' 'not'",
    "e.g. (1=1)",
    // Code in a code-review tool.
    "if (a == 1 || b == 2) { return; }",
    "print('hello'); time.sleep(5)",
    'db.query("SELECT * FROM users WHERE id = ?", [id])',
    // Markup: `"#top"` and `">"` are not a comment after a breakout or a comparison.
    '<a href="#top">Top</a>',
    '<input value=">"> <!-- note -->',
    "it's ok; exec summary follows",
  ];
  it.each(benign)("%s passes PL1", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  // A blog post about SQL: a complete statement in a value only matters if the application runs
  // the value as SQL, and nothing in it leaves a literal or bends a condition. PL1 lets it pass (the
  // issue's look-alike requirement); PL2 reports the statement for routes that never carry SQL.
  it("lets a sentence quoting a query pass at PL1 and flags it at PL2", () => {
    const post = "use SELECT * FROM users WHERE id = 1 to list them";
    expect(rulesAt(post, 1)).toEqual([]);
    expect(rulesAt(post, 2)).toContain("sqli-statement");
  });
});

describe("sqliDetector: bounded work", () => {
  it("still sees a payload behind padding longer than the token limit", () => {
    expect(rulesAt(`${"a ".repeat(20_000)}x' OR 1=1--`)).toContain("sqli-tautology");
    expect(rulesAt(`${"(".repeat(50_000)}1 UNION SELECT 1,2`)).toContain("sqli-union");
  });

  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
        sqliDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 200 },
    );
  });

  it("inspects 64 KiB of hostile input in linear time", () => {
    const unit = fc.sample(
      fc.constantFrom(
        "'",
        '"',
        "/*",
        "*/",
        "/*!",
        "--",
        "#",
        "(",
        "or ",
        "1=1",
        "UN",
        "\\",
        "@@",
        "0x",
        "`",
        "[",
        ";",
      ),
      2000,
    );
    const inputs = [
      "'".repeat(65_536),
      "(".repeat(65_536),
      "/*".repeat(32_768),
      "a/*".repeat(21_845),
      "or (".repeat(16_384),
      unit.join("").repeat(40).slice(0, 65_536),
      fc.sample(fc.string({ minLength: 65_536, maxLength: 65_536 }), 1)[0]!,
    ];
    for (const v of inputs) classifySql(v); // warm-up
    for (const v of inputs) {
      const t0 = performance.now();
      classifySql(v);
      // Generous bound for a shared 2-core CI box; quadratic work would take seconds.
      expect(performance.now() - t0).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});

describe("sqliDetector: probes and dialect syntax", () => {
  const pl1: [string, string][] = [
    // System catalogues and sample databases, bare or qualified, any case.
    ["information_schema", "sqli-catalog"],
    ["InFoRmaTioN_ScHemA.tables", "sqli-catalog"],
    ["from `information_schema`", "sqli-catalog"],
    ["pg_catalog", "sqli-catalog"],
    ["mysql.db", "sqli-catalog"],
    ["MSysAccessObjects", "sqli-catalog"],
    ["tempdb", "sqli-catalog"],
    // Database-only functions followed by `(`, spaced or not.
    ["db_name(", "sqli-db-function"],
    ["BENChmARk(", "sqli-db-function"],
    ["concat_ws (", "sqli-db-function"],
    ["pay=extractvalue(", "sqli-db-function"],
    ["div(23,-2)", "sqli-db-function"],
    // Everyday SQL functions only when the call is left open for the query to finish.
    ["substr(", "sqli-call-fragment"],
    ["Rand (", "sqli-call-fragment"],
    ["selectect user(", "sqli-call-fragment"],
    ["SELECT CHAR(", "sqli-call-fragment"],
    ["select pg_sleep", "sqli-call-fragment"],
    // PostgreSQL casts that force conversion errors.
    ["starts_with(password,'a')::int", "sqli-pg-cast"],
    ["'[1, 2]'::jsonb || '3'::jsonb", "sqli-pg-cast"],
    ["function(foo)::double precision", "sqli-pg-cast"],
    ["1+current_user::int", "sqli-pg-cast"],
    // NoSQL operators as keys, bracket names or inline, Mongo shell calls and `$where` sleeps.
    ["u_id[$ne]", "sqli-nosql"],
    ["$where", "sqli-nosql"],
    ["true, $where: '99 == 88'", "sqli-nosql"],
    ["', $or: [ {}, { 'a':'a", "sqli-nosql"],
    ["db.injection.insert({success:1});", "sqli-nosql"],
    [";var d = new Date(); do{c = new Date();}while(c-d<10000)", "sqli-nosql"],
    // Evasions: MySQL executable comments and `1.e` numbers.
    ["9999 or {if length((/*!5000select username/*!50000from*/user))>0}", "sqli-evasion"],
    ["1.e(ascii)", "sqli-evasion"],
    ["1.e.tables", "sqli-evasion"],
    // Dynamic SQL, T-SQL variables and DDL.
    ['EXECUTE IMMEDIATE "', "sqli-stacked"],
    ["exec (@", "sqli-stacked"],
    ["DECLARE @x INT", "sqli-stacked"],
    ["SET @a = 1", "sqli-stacked"],
    ["pay=;update users", "sqli-stacked"],
    [";truncate[xx", "sqli-stacked"],
    [";RePLAcE INTO t (id, name) VALUES (1, 'test');", "sqli-stacked"],
    ["ALTER TABLE `t` ADD `video` TEXT CHARACTER SET latin1", "sqli-ddl"],
    ["CREATE FUNCTION hello (s CHAR(20)) RETURNS CHAR(50)", "sqli-ddl"],
    // Select-list tails and conditionals.
    ["` AS `edit_user_id` from", "sqli-select-list"],
    ['1234 AS "foobar" FROM tablevar2', "sqli-select-list"],
    ["SELECT x GROUP BY y HAVING COUNT(Id) >= 9", "sqli-select-list"],
    [" case when condition1 then result1", "sqli-boolean-injection"],
    ["if(1234=", "sqli-boolean-injection"],
    [") like (", "sqli-boolean-injection"],
    ["admin@juice-sh.op`;", "sqli-comment-truncation"],
    ["OR '{\"name\":\"asd\"}' ?| array['a','name']", "sqli-tautology"],
    ["'{\"a\":2}' < '$.c[2].f' = 7", "sqli-boolean-injection"],
    ["2020-03-01 UNION ALL SELECT CONCAT", "sqli-union"],
    // The double that hung PHP's and Java's number parsers.
    ["2.2250738585072011e-308", "sqli-float-dos"],
  ];
  it.each(pl1)("%s → %s at PL1", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  const pl2: [string, string][] = [
    ["COS(", "sqli-function-name"],
    ["round (", "sqli-function-name"],
    ["pay=UPPER(", "sqli-function-name"],
    ["xp_cmdshell", "sqli-fragment"],
    ["OPENROWSET", "sqli-fragment"],
    ["AND 7639=(", "sqli-fragment"],
    ["pay=|| langCode == '", "sqli-fragment"],
    ["&&(e===", "sqli-fragment"],
    ["FROM `we_tblErrorLog` WHERE `we_tblErrorLog`.`ID` = 25251 LIMIT", "sqli-fragment"],
    ["ORder by", "sqli-fragment"],
    ["HAVING 1=", "sqli-fragment"],
    ["SELECT (CASE", "sqli-fragment"],
    ["select 0x616263", "sqli-fragment"],
    ["x'|email--", "sqli-fragment"],
    ["id'is not-id--", "sqli-fragment"],
    ["z'or email notnull--", "sqli-fragment"],
    ["user'collate nocase--", "sqli-fragment"],
    ["admin@juice-sh.op\\' or json (id);", "sqli-fragment"],
    ["' UNION A", "sqli-fragment"],
    ["\\'and", "sqli-fragment"],
    ["DR/**/OP/*bypass*/sampletable", "sqli-fragment"],
    [") when 234 then", "sqli-fragment"],
    ["42 like 42", "sqli-fragment"],
    ["declare @b", "sqli-fragment"],
    ["DECLARE/**/@x", "sqli-fragment"],
    ["SET @OLD_SQL_NOTES", "sqli-fragment"],
    ["'alter a", "sqli-fragment"],
    ["select * from user where id not between 1 and 2", "sqli-fragment"],
    ["DELETE FROM users;--", "sqli-fragment"],
    ["something LIKE '", "sqli-fragment"],
    ["in (2147483647,-1)", "sqli-fragment"],
    ["4294967296", "sqli-int-overflow"],
    ["user__profile__icontains", "sqli-orm-lookup"],
    ["created_by__departments__user__username__startswith", "sqli-orm-lookup"],
  ];
  it.each(pl2)("%s → %s at PL2, not PL1", (value, rule) => {
    expect(rulesAt(value, 2)).toContain(rule);
    expect(rulesAt(value, 1)).not.toContain(rule);
  });

  it("reports a single ORM field lookup only at PL3", () => {
    expect(rulesAt("password__startswith", 2)).toEqual([]);
    expect(rulesAt("password__startswith", 3)).toContain("sqli-orm-filter");
  });

  const benign = [
    // Methods, namespaces and casts of other languages.
    "x.trim()",
    "Math.sin(x) + str.substring(1)",
    "$obj->concat(a)",
    "std::string s; Foo::Text.new",
    "fe80::1",
    "let v = serde_json::json!({})",
    // Prose with function names, catalog-like words and keywords.
    "Left (WA, RR), following wood edge south",
    "sin (x) is periodic",
    "One quarter (24%) of people",
    "the system catalog (see docs)",
    "in case when it rains then stay home",
    "declare @john the winner",
    '"Drop files here"',
    'Swagger UI can show a "Select a definition" dropdown',
    "or Yarn:",
    "or more. This is a Regular Expression Denial of Service (ReDoS).",
    "Note that these aren't exactly like TypeScript's built-in Parameters<...> and ReturnType<...>:",
    "import glob from 'glob'",
    'playwright-cli find "Sign in"',
    '"-c, --count Int',
    '// redis command "SET key data EX 60"',
    "- [values](#values) and [type format](#type-format)",
    "set to `true`. See below",
    "use `foo`; then `bar`",
    "(a) like (b)",
    "Rated 5 as great from critics",
    "exec noun",
    'Die "Union von Europa"',
    "user'collate foo--",
    "Like",
    "regexp",
    "price is $in stock",
    '{"$type": "Foo.Bar, App", "$id": "1"}',
    "/*! jQuery v3.7.1 | (c) OpenJS Foundation */",
    "__proto__",
    "a__b",
    "4294967",
  ];
  // At PL2 nothing may block (a critical match); an older PL2 rule may still score a quoted statement.
  it.each(benign)("%s is not blocked at PL2", (value) => {
    const blocking = classifySql(value).filter(
      (r) => SQLI_RULES[r].paranoia <= 2 && SQLI_RULES[r].severity === "critical",
    );
    expect(blocking).toEqual([]);
    expect(rulesAt(value, 1)).toEqual([]);
  });

  it("takes `if (` opening a value for code, not an open call", () => {
    expect(rulesAt("if (", 1)).toEqual([]);
  });

  it("does not take a spaced `(` after prose for a call", () => {
    expect(rulesAt("the system database (see docs)", 1)).toEqual([]);
    expect(rulesAt("database (", 1)).toContain("sqli-db-function");
  });

  it("leaves function-name probes out of URL paths (wiki titles, broken CSS links)", () => {
    const path = sqliDetector.inspect({ name: "REQUEST_PATH", value: "/wiki/Round(album)" });
    expect(path.map((d) => d.rule)).not.toContain("sqli-function-name");
    const arg = sqliDetector.inspect({ name: "ARGS:q", value: "Round(album)" });
    expect(arg.map((d) => d.rule)).toContain("sqli-function-name");
  });
});
