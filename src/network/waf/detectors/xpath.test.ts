import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { classifyXpath, XPATH_RULES, xpathDetector } from "./xpath.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:user"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      xpathDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("xpathDetector: rules table", () => {
  it("names every rule xpath-… with the attack-xpath tag first", () => {
    for (const [id, r] of Object.entries(XPATH_RULES)) {
      expect(id.startsWith("xpath-")).toBe(true);
      expect(r.tags[0]).toBe("attack-xpath");
    }
  });
  it("blocks on one match at PL1 only", () => {
    for (const r of Object.values(XPATH_RULES)) expect(r.severity === "critical").toBe(r.paranoia === 1);
  });
});

describe("xpathDetector: functions over location paths", () => {
  const attacks = [
    "count(/*)",
    "1 or count(/*)=1",
    "name(/*[1])",
    "string-length(name(/*[1]))",
    "substring(name(/*[1]),1,1)",
    "count(//user)",
    "count(//user/child::node())",
    "name(..)",
    "local-name(/*)",
    "count(@*)",
    "string(//user[1]/password)",
    "COUNT(/*)",
    "count (/*)",
    "count( /* )",
    "count(%2F*)",
    "count&#40;/*&#41;",
    "name(parent::*)",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("xpath-function-path");
  });
});

describe("xpathDetector: axes", () => {
  const attacks = [
    "/descendant-or-self::node()",
    "']/parent::*/child::node()['",
    "ancestor::*",
    "following-sibling::item[1]",
    "preceding-sibling::x",
    "child::text()",
    "self::node()",
    "Descendant::user[1]",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("xpath-axis");
  });
});

describe("xpathDetector: string break-out with XPath after it", () => {
  const attacks = [
    "x' or name()='username' or 'x'='y",
    "' or count(/*)=1 or '",
    "' and string-length(name(/*[1]))=5 and '1'='1",
    "' or substring(name(/*[1]),1,1)='a",
    "'] | //* | //*['",
    "') or true() or ('",
    "\" or contains(name(parent::*),'user') or \"",
    "' or position()=1 or '",
    "' | //password | '",
    "' or //user[1]/@id='1",
    "' OR NAME()='USER",
    "admin' and starts-with(name(),'u') and '1'='1",
    "' or doc('http://evil.example/')='x",
    "%27%20or%20count(%2F*)%3D1%20or%20%27",
    "&#39; or name()=&#39;a",
    "x'\tor\ttext()='a",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("xpath-boolean-breakout");
  });
  it("leaves the plain tautology to the SQL detector", () => {
    expect(rulesAt("' or '1'='1", 2)).toEqual([]);
    expect(rulesAt("' or ''='", 2)).toEqual([]);
  });
});

describe("xpathDetector: PL2 path predicates", () => {
  const cases = [
    "//user[name/text()='admin']",
    "/*[1]",
    "//*[2]",
    "a[@href='x']",
    "//item[@id = '3']",
    "/users/user/text()",
  ];
  it.each(cases)("%s", (value) => {
    expect(rulesAt(value, 2)).toContain("xpath-path-predicate");
    expect(rulesAt(value, 1)).not.toContain("xpath-path-predicate");
  });
  it("leaves Markdown mentions, comments and URLs alone", () => {
    expect(rulesAt("thanks to [@mcollina](https://github.com/mcollina)", 2)).toEqual([]);
    expect(rulesAt('a comment cannot start inside a quoted string (`"*//*"`)', 2)).toEqual([]);
    expect(rulesAt("https://example.com/a/b?c=d", 2)).toEqual([]);
  });
});

describe("xpathDetector: benign look-alikes at PL1", () => {
  const benign = [
    "O'Brien or Smith",
    "He said 'no' and left",
    "It's my name (John)",
    "rock 'n' roll or jazz",
    "Please enter 'name' or email",
    "I'll count (them) or not",
    "name(s) and address",
    "count(items) > 3",
    "round(.5)",
    "select count(*) from users where name = 'x'",
    "SELECT name FROM t WHERE a='b' or c='d'",
    "str.replace(/a/g, 'b')",
    "array.count(/regex/)",
    "$('.x').text() and $('.y').last()",
    "el.text() || 'none'",
    "parent::__construct($args);",
    "self::$instance = new self();",
    "static::create()",
    "std::vector<int> v;",
    "Child::create()",
    "use Foo::Bar;",
    "Namespace::Class::method()",
    "https://example.com/path//x[1]",
    "/api/users/123",
    "/search?q=count",
    "f(x) = name of x",
    "don't stop or text me",
    "D'or 1st parfume",
    "thanks to [@mcollina](https://github.com/mcollina)",
    "and/or...",
    "Retrieves all strings (\" or ') in the source.\n * @returns {ASTNode[]} An array of string nodes.",
    "write to 'me' or @support (via email)",
    '["| id", "separator"], // a value opening with a separator',
    "const rps = Number(/Requests\\/sec:\\s+([\\d.]+)/.exec(out)?.[1]);",
    "const status = Number(/^http\\/\\d (\\d{3})/.exec(head)?.[1] ?? 0);",
    "concat(...targets: Array<string>): string;",
    'he said "or so..." and left',
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("xpathDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        xpathDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom(
      "'",
      '"',
      " or ",
      "name(",
      "count(",
      ")",
      "/",
      "*",
      "[",
      "]",
      "::",
      "child",
      "|",
      "@",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (parts) => {
        classifyXpath(parts.join(""));
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const units = [
      "(",
      "a(",
      "name(",
      "name(name(",
      "count( ",
      "::",
      "child::",
      "a::",
      "' or ",
      "' or  ",
      " ",
      "[@a",
      "//a",
      "/",
      "' | ",
    ];
    const inputs = units.map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    inputs.push(`' or ${" ".repeat(65530)}`, `count(${" ".repeat(65530)}`);
    for (const v of inputs) classifyXpath(v); // warm-up
    for (const v of inputs) {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        classifyXpath(v);
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
