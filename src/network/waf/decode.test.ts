import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  base64Decode,
  decodeLayers,
  DEFAULT_DECODE_LIMITS,
  htmlDecode,
  jsDecode,
  nfkc,
  removeNulls,
  shellCompact,
  sqlCompact,
  urlDecode,
  variants,
} from "./decode.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

describe("urlDecode", () => {
  it("decodes one layer, mixed-case hex, and leaves malformed escapes alone", () => {
    expect(urlDecode("%3Cscript%3e")).toBe("<script>");
    expect(urlDecode("%253C")).toBe("%3C");
    expect(urlDecode("100% %zz %4")).toBe("100% %zz %4");
    expect(urlDecode("a+b")).toBe("a+b");
    expect(urlDecode("a+b", true)).toBe("a b");
  });
  it("decodes UTF-8, IIS %u and overlong UTF-8", () => {
    expect(urlDecode("%C3%A9")).toBe("é");
    expect(urlDecode("%u003cscript%U003E")).toBe("<script>");
    expect(urlDecode("..%c0%af..%c0%AF")).toBe("../../");
    expect(urlDecode("%e0%80%ae")).toBe(".");
    expect(urlDecode("%ff%41")).toBe("\u00ffA"); // a stray byte stays visible as Latin-1
  });
});

describe("htmlDecode", () => {
  it("decodes named, decimal and hex entities, with or without semicolons", () => {
    expect(htmlDecode("&lt;script&gt;")).toBe("<script>");
    expect(htmlDecode("&#60;&#x3C;&#X3c&#0000060")).toBe("<<<<");
    expect(htmlDecode("javascript&colon;alert&lpar;1&rpar;")).toBe("javascript:alert(1)");
    expect(htmlDecode("&ltimg src=x&gt")).toBe("<img src=x>");
    expect(htmlDecode("a &bogus; &# &")).toBe("a &bogus; &# &");
    expect(htmlDecode("&#99999999999999;")).toBe("\ufffd");
    expect(htmlDecode("&toString;&valueOf;")).toBe("&toString;&valueOf;");
  });
});

describe("jsDecode", () => {
  it("decodes JS and CSS escapes", () => {
    expect(jsDecode("\\x3cscript\\x3E")).toBe("<script>");
    expect(jsDecode("\\u0061lert\\u{28}1\\u{029}")).toBe("alert(1)");
    expect(jsDecode("\\3c img\\3E")).toBe("<img>");
    expect(jsDecode("\\j\\a\\v\\a")).toBe("j\nv\n"); // `\a` is CSS hex 0A
    expect(jsDecode("e\\v\\a\\l")).toBe("ev\nl");
    expect(jsDecode("\\s\\r\\i\\p\\t")).toBe("sript");
    expect(jsDecode("trailing\\")).toBe("trailing\\");
  });
});

describe("base64Decode", () => {
  it("decodes clearly encoded text only", () => {
    const payload = "<script>alert(document.cookie)</script>";
    expect(base64Decode(Buffer.from(payload).toString("base64"))).toBe(payload);
    expect(base64Decode(Buffer.from("' or 1=1 -- comment").toString("base64url"))).toBe(
      "' or 1=1 -- comment",
    );
    expect(base64Decode("administratorPassword")).toBeNull(); // length % 4 == 1
    expect(base64Decode("abcdefghijklmnopqrst")).toBeNull(); // one case: a word, not base64
    expect(base64Decode("short")).toBeNull();
    expect(
      base64Decode(Buffer.from([0, 1, 2, 200, 255, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]).toString("base64")),
    ).toBeNull();
  });
});

describe("canonical views", () => {
  it("normalises Unicode compatibility forms, bounded", () => {
    expect(nfkc("ＳＥＬＥＣＴ＜ｓｃｒｉｐｔ")).toBe("SELECT<script");
    expect(nfkc("\ufdfa").length).toBeLessThanOrEqual(2);
  });
  it("removes null bytes", () => {
    expect(removeNulls("passwd\0.png")).toBe("passwd.png");
  });
  it("compacts SQL comments and whitespace", () => {
    expect(sqlCompact("1/**/UNION/**/SELECT\t\n 1")).toBe("1 UNION SELECT 1");
    expect(sqlCompact("1 /*!50000UNION*/ SELECT")).toBe("1 UNION SELECT");
    expect(sqlCompact("admin'-- x\n")).toBe("admin'");
    expect(sqlCompact("admin'# x")).toBe("admin'");
    expect(sqlCompact("1 /* unterminated")).toBe("1");
  });
  it("compacts shell word-splitting tricks", () => {
    expect(shellCompact("c''at /e\"t\"c/pa\\ss$@wd")).toBe("cat /etc/passwd");
    expect(shellCompact("cat${IFS}/etc/passwd")).toBe("cat /etc/passwd");
    expect(shellCompact("cat$IFS$9/etc/passwd")).toBe("cat /etc/passwd");
    expect(shellCompact("c^m^d /c dir")).toBe("cmd /c dir");
  });
});

describe("variants", () => {
  it("peels double and triple encodings within the pass limit", () => {
    expect(variants("%253Cscript%253E")).toContain("<script>");
    expect(variants("%25253Cscript%25253E")).toContain("<script>");
    expect(decodeLayers("%2525253C", 3)).toBe("%3C"); // four layers, three passes
    expect(variants("&amp;lt;script&amp;gt;")).toContain("<script>");
    expect(variants("%26%23x3c%3bscript")).toContain("<script");
    expect(variants("\\u0025\\u0033\\u0043")).toContain("<"); // JS escapes hiding a URL escape
  });
  it("gives base64, canonical, SQL and shell views", () => {
    expect(variants(Buffer.from("<svg onload=alert(1)>").toString("base64"))).toContain(
      "<svg onload=alert(1)>",
    );
    expect(variants("UnIoN/**/SeLeCt")).toContain("union select");
    expect(variants("ＳＥＬＥＣＴ")).toContain("select");
    expect(variants("c''at%20/etc/pa$@sswd")).toContain("cat /etc/passwd");
    expect(variants("..%c0%af..%c0%afetc%c0%afpasswd")).toContain("../../etc/passwd");
    expect(variants("%EF%BC%9Cscript%EF%BC%9E")).toContain("<script>"); // fullwidth, URL-encoded
    expect(variants("%252E%252e%252F")).toContain("../"); // double encoding, mixed-case hex
    expect(variants("PASSWD%00.png")).toContain("PASSWD.png");
  });
  it("respects the variant limit", () => {
    const b64 = Buffer.from("c''at${IFS}/etc/PASSWD /**/ %3c").toString("base64");
    expect(variants(b64).length).toBeGreaterThan(4);
    expect(variants(b64, { maxPasses: 3, maxVariants: 4 })).toHaveLength(4);
    expect(variants("%253C", { maxPasses: 1, maxVariants: 10 })).not.toContain("<");
  });
  it("returns the raw value first, plain values alone, and no duplicates", () => {
    expect(variants("hello world")).toEqual(["hello world"]);
    const v = variants("%3CScript%3E");
    expect(v[0]).toBe("%3CScript%3E");
    expect(new Set(v).size).toBe(v.length);
  });
  it("never throws, stays within the variant limit, and never grows much (property)", () => {
    const hostile = fc.stringMatching(/^[%&#;\\ux0-9a-fA-F{}'"$@/*\-\s+=]*$/);
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), hostile), (s) => {
        const v = variants(s);
        expect(v[0]).toBe(s);
        expect(v.length).toBeLessThanOrEqual(DEFAULT_DECODE_LIMITS.maxVariants);
        for (const form of v) expect(form.length).toBeLessThanOrEqual(s.length * 2 + 4);
      }),
      { numRuns: 200 },
    );
  });
});

describe("bounded work", () => {
  // 64 KiB of adversarial input per decoder family must normalise quickly. The budget (SUPERLINEAR_GUARD_MS)
  // is generous for a shared CI core; measured medians are 1-12 ms. One warm-up run first so
  // that JIT compilation is not counted.
  const size = 64 * 1024;
  const inputs: Record<string, string> = {
    percent: "%".repeat(size),
    percentHex: "%25".repeat(size / 3),
    overlong: "%c0".repeat(size / 3),
    iis: "%u".repeat(size / 2),
    entities: "&#".repeat(size / 2),
    entityDigits: "&#" + "9".repeat(size),
    named: "&lt".repeat(size / 3),
    jsEscapes: "\\u".repeat(size / 2),
    jsBraces: "\\u{".repeat(size / 3),
    css: "\\".repeat(size),
    sqlComments: "/*".repeat(size / 2),
    sqlDashes: "--".repeat(size / 2),
    shell: "${IFS".repeat(size / 5),
    base64: "QUJD".repeat(size / 4),
    unicode: "\ufdfa".repeat(size),
  };
  for (const [name, input] of Object.entries(inputs)) {
    it(`normalises 64 KiB of ${name} without super-linear work`, () => {
      variants(input);
      const start = performance.now();
      variants(input);
      expect(performance.now() - start).toBeLessThan(SUPERLINEAR_GUARD_MS);
    });
  }
});

describe("fixes found by the detectors", () => {
  it("the shell view reads $IFS in any case, as it runs on the lowercased form", () => {
    expect(shellCompact("cat$ifs/etc/passwd")).toBe("cat /etc/passwd");
    expect(shellCompact("cat${ifs}/etc/passwd")).toBe("cat /etc/passwd");
  });

  it("a form with backslashes intact is among the variants (JS unescaping would eat them)", () => {
    expect(variants("..%5c..%5cwindows%5cwin.ini")).toContain("..\\..\\windows\\win.ini");
    expect(variants("type c:\\users\\default")).toContain("type c:\\users\\default");
  });
});
