import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { classifyLdap, LDAP_RULES, ldapDetector } from "./ldap.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:user"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      ldapDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("ldapDetector: rules table", () => {
  it("names every rule ldap-… with the attack-ldap tag first", () => {
    for (const [id, r] of Object.entries(LDAP_RULES)) {
      expect(id.startsWith("ldap-")).toBe(true);
      expect(r.tags[0]).toBe("attack-ldap");
    }
  });
  it("blocks on one match at PL1 only", () => {
    for (const r of Object.values(LDAP_RULES)) {
      if (r.paranoia === 1) expect(r.severity).toBe("critical");
      else expect(r.severity).not.toBe("critical");
    }
  });
});

describe("ldapDetector: filter break-out", () => {
  const attacks = [
    "*)(uid=*))(|(uid=*",
    "admin)(&)",
    "*)(|(objectclass=*)",
    "*)(&",
    "admin)(!(&(|",
    "*)(|(password=*",
    "admin)(|(uid=*",
    "printer)(uid=*)",
    "void)(objectClass=users))(&(objectClass=void)",
    "eb9adbd87d)!(sn=*",
    "*)!(sn=*",
    "aaa*aaa)(cn>=bob)",
    "value)(gidNumber<=100",
    "john)(sn~=smith",
    "admin)(|",
    "test))(&(objectClass=*",
    "val)&(cn=admin",
    "val)|(uid=*",
    "test) ( & ",
    "test)\t(\t|",
    "session=value)(uid=*",
    "admin*)((|userpassword=*)",
    "x)(1=1",
    // encodings and case
    "%2A%29%28%7C%28objectclass%3D%2A%29",
    "admin%29%28%26%29",
    "admin%2529%2528%257C%2528uid%253D%252A", // double URL-encoded
    "\\2a\\29\\28uid=\\2a", // escaped as hex
    "ADMIN)(|(UID=*",
    "admin&#41;&#40;&#124;&#40;uid=*", // HTML entities
    "YWRtaW4pKHwodWlkPSo=", // base64 of `admin)(|(uid=*`
    "KikofChvYmplY3RjbGFzcz0qKQ", // base64 of `*)(|(objectclass=*)`, unpadded
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ldap-filter-breakout");
  });
});

describe("ldapDetector: composite filter spliced after a value", () => {
  const attacks = [
    "*(|(objectclass=*))",
    "*(|(mail=*))",
    "admin*(|(uid=*))",
    "x(&(uid=admin))",
    "* ( | (cn=*))",
    "*(!(cn=nobody))",
    "%2A%28%7C%28objectclass%3D%2A%29%29",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ldap-filter-splice");
  });
});

describe("ldapDetector: credential attributes", () => {
  const attacks = [
    "(&(uid=admin)(!(&(1=0)(userPassword=q))))",
    "userPassword:2.5.13.18:=123",
    "(userPassword=*)",
    "(|userpassword=a*)",
    "(unicodePwd=*)",
    "(ms-Mcs-AdmPwd=*)",
    "(sambaNTPassword=*)",
    "(USERPASSWORD>=a)",
    "dXNlclBhc3N3b3JkOjIuNS4xMy4xODo9MTIz", // base64 of the extensible match above
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ldap-credential-attribute");
  });
  it("leaves a form field that merely holds a password alone", () => {
    expect(rulesAt("userPassword=hunter2")).toEqual([]);
    expect(rulesAt("my userPassword is long")).toEqual([]);
  });
});

describe("ldapDetector: NUL truncation", () => {
  const attacks = ["*))%00", "*)%00", "admin)\u0000", "*))\\00", ")(cn=))\\x00", "admin)) %00"];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ldap-nul-truncation");
  });
});

describe("ldapDetector: PL2 rules", () => {
  const cases: [string, string][] = [
    ["(objectclass=*)", "ldap-presence-probe"],
    ["(uid=*)", "ldap-presence-probe"],
    ["(&(objectClass=*)", "ldap-presence-probe"],
    ["admin*)", "ldap-wildcard-close"],
    ["*))", "ldap-wildcard-close"],
    ["(userAccountControl:1.2.840.113556.1.4.803:=2)", "ldap-extensible-match"],
    ["cn:dn:caseExactMatch:=Fred", "ldap-extensible-match"],
    ["(cn:=Betty)", "ldap-extensible-match"],
  ];
  it.each(cases)("%s → %s at PL2 only", (value, rule) => {
    expect(rulesAt(value, 2)).toContain(rule);
    expect(rulesAt(value, 1)).toEqual([]);
  });
});

describe("ldapDetector: benign look-alikes at PL1", () => {
  const benign = [
    "(a+b)*c",
    "(1+2)+(3+4)",
    "Hello (world)",
    "John Smith (Sales)",
    "1) first item 2) second item",
    "a) b) c)",
    "some text) (more text",
    "see note :) (really)",
    "smile :))",
    "f(x) = (x+1)",
    "ratio = (a)/(b)",
    "price (USD)=12",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "if(!(a=b)) return;",
    "while(!(done=next()))",
    "memset(&(s->x), 0, 4)",
    "O'Brien",
    "user@example.com",
    "foo|bar",
    "Hello!World",
    "12:30:45",
    "x := 1",
    "err:=f()",
    "https://en.wikipedia.org/wiki/Foo_(bar)",
    // well-formed filters as a directory tool sends them
    "(&(objectCategory=person)(objectClass=user))",
    "(&(objectCategory=computer)  (userAccountControl:1.2.840.113556.1.4.803:=8192))",
    "(objectSID=S-1-5-21-73586283-152049171-839522115-1111)",
    "(|(cn=John*)(mail=john*))",
    "(cn=John Smith)",
    "userPassword=hunter2",
    "the (userPassword) attribute",
    "1) a-b=c",
    "quote the filter `(&(objectClass=user)(cn=x))` in a review comment",
    'the filter "(|(cn=a)(cn=b))" matches either',
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("ldapDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        ldapDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom(
      "(",
      ")",
      "*",
      "&",
      "|",
      "!",
      "=",
      ":",
      ":=",
      "uid",
      "1.2",
      " ",
      "\u0000",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (parts) => {
        classifyLdap(parts.join(""));
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const units = [")", "(", "*)", ")(", "(&(", "*(|(", "a:", ":=", "a:1.2:=", "(uid=", ") ", "( ", "(a"];
    const inputs = units.map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    for (const v of inputs) classifyLdap(v); // warm-up
    for (const v of inputs) {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        classifyLdap(v);
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
