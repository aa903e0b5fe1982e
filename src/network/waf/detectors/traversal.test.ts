import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { dotDotSegments, TRAVERSAL_RULES, traversalDetector } from "./traversal.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      traversalDetector
        .inspect({ name: "ARGS:file", value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("traversalDetector: attacks", () => {
  const attacks: [string, string][] = [
    ["../../../etc/passwd", "lfi-dot-dot"],
    ["..\\..\\windows\\win.ini", "lfi-dot-dot"],
    ["/static/img/..%2F..%2Fsecret.txt", "lfi-dot-dot"],
    ["%2e%2e%2f%2e%2e%2fconfig", "lfi-dot-dot"],
    ["%252e%252e%252f%252e%252e%252fx", "lfi-dot-dot"],
    ["%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afx", "lfi-dot-dot"],
    ["..;/..;/manager/html", "lfi-dot-dot"],
    ["....//....//x", "lfi-dot-dot"],
    [".%00./.%00./x", "lfi-dot-dot"],
    [".../.../WINDOWS/x", "lfi-dot-dot"],
    ["../1.7z", "lfi-dot-dot"], // one segment, but the value is a path climbing up
    ["/etc/passwd", "lfi-sensitive-file"],
    ["/etc/shadow%00", "lfi-sensitive-file"],
    ["/ETC//./PASSWD", "lfi-sensitive-file"],
    ["/proc/self/environ", "lfi-sensitive-file"],
    ["C:\\Windows\\win.ini", "lfi-sensitive-file"],
    ["c:/boot.ini", "lfi-sensitive-file"],
    ["WEB-INF/web.xml", "lfi-sensitive-file"],
    [".git/config", "lfi-sensitive-file"],
    [".env", "lfi-sensitive-file"],
    ["/var/www/.htaccess", "lfi-sensitive-file"],
    ["/home/u/.ssh/id_rsa", "lfi-sensitive-file"],
    ["\\\\::1\\c$\\users\\default\\ntuser.dat", "lfi-sensitive-file"],
    ["%5C%5C::1%5Cc$%5Cusers%5Cdefault%5Cntuser.dat", "lfi-sensitive-file"],
    ["L3N0YXRpYy9pbWcvLi4vLi4vZXRjL3Bhc3N3ZA", "lfi-sensitive-file"], // base64 of /static/img/../../etc/passwd
    ["php://filter/convert.base64-encode/resource=index.php", "lfi-wrapper"],
    ["PHP://input", "lfi-wrapper"],
    ["file:///etc/hosts", "lfi-wrapper"],
    ["zip://uploads/a.zip#shell.php", "lfi-wrapper"],
    ["phar://./a.phar/x", "lfi-wrapper"],
    ["expect://id", "lfi-wrapper"],
    // dots and slashes as C hex literals, also with a dropped zero
    ["0x2e0x2e0x2f0x2e0x2e0x2fetc", "lfi-dot-dot"],
    ["0x5c0x2e.%00/", "lfi-dot-dot"],
    ["/0x2e0x2ex2e0x2e{file}", "lfi-path-shape"],
    // `/..` before what no file name holds, values of nothing but slashes and dots
    ["/..{file}", "lfi-dot-dot"],
    ["/....%00", "lfi-dot-dot"],
    ["/./././", "lfi-path-shape"],
    ["//..//{file}", "lfi-path-shape"],
    ["/.//./{file}", "lfi-path-shape"],
    // developer and AI-assistant configuration, logs, backups
    ["/.claude/settings.json", "lfi-sensitive-file"],
    ["/app/.cursor/mcp.json", "lfi-sensitive-file"],
    ["/.aiignore", "lfi-sensitive-file"],
    ["/.kiro/hooks/pre.sh", "lfi-sensitive-file"],
    ["/wp-content/debug.log", "lfi-sensitive-file"],
    ["/@fs/etc/passwd?raw", "lfi-sensitive-file"],
    ["backup.sql.zip", "lfi-backup-file"],
    ["/dump.sql", "lfi-backup-file"],
    ["/wp-config.php.bak", "lfi-backup-file"],
    ["config.yml~", "lfi-backup-file"],
    ["/etc/resolv.conf", "lfi-sensitive-file"],
    ["/root/.viminfo", "lfi-sensitive-file"],
    ["/var/run/docker.sock", "lfi-sensitive-file"],
    ["C:\\inetpub\\wwwroot\\web.config", "lfi-sensitive-file"],
    ["c:/windows/repair/sam", "lfi-sensitive-file"],
    ["/app/config/database.yml", "lfi-sensitive-file"],
  ];
  it.each(attacks)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("reports PL2 rules only at PL2", () => {
    expect(rulesAt("see ../README for details")).toEqual([]);
    expect(rulesAt("see ../README for details", 2)).toContain("lfi-dot-dot-single");
    expect(rulesAt("/.cursor/mcp.json", 2)).toContain("lfi-hidden-file");
    expect(rulesAt("/var/log/app/x.log", 2)).toContain("lfi-system-path");
  });

  it("flags configuration file names only as upload names", () => {
    const upload = (target: string, value: string): string[] =>
      traversalDetector.inspect({ name: target, value }).map((d) => d.rule);
    for (const name of [
      ".htaccess",
      "web.config",
      "settings. php",
      "wp-config-php.bak",
      "config.yml",
      ".boto",
    ])
      expect(upload("FILES_NAMES:file", name)).toContain("lfi-upload-name");
    expect(upload("REQUEST_HEADERS:x-filename", "wp-config_php.txt")).toContain("lfi-upload-name");
    expect(upload("FILES_NAMES:file", "holiday.jpg")).toEqual([]);
    expect(upload("FILES_NAMES:file", "config-guide.pdf")).toEqual([]);
    expect(upload("ARGS:q", "config.yml")).toEqual([]);
    // the multipart parser eats the `\` of `..\1.7z`
    expect(upload("FILES_NAMES:file", "..1.7z")).toContain("lfi-dot-dot");
    expect(upload("ARGS:q", "..1.7z")).toEqual([]);
  });

  it("tags and severities come from the rule table", () => {
    const [d] = traversalDetector.inspect({ name: "ARGS:f", value: "../../x" });
    expect(d).toEqual({
      rule: "lfi-dot-dot",
      tags: ["attack-lfi", "path-traversal"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:f",
    });
    for (const r of Object.values(TRAVERSAL_RULES)) expect([1, 2]).toContain(r.paranoia);
  });
});

describe("traversalDetector: benign look-alikes at PL1", () => {
  const benign = [
    "see ../README for details", // one `../` in prose: PL2 only
    "Read [the guide](../docs/guide.md) first", // a relative Markdown link
    "version 1.2..3",
    "report..final.pdf",
    "wait... what?",
    "and so on.../or not",
    "process.env.NODE_ENV",
    "window.history.back()",
    "https://example.com/a/b/c?x=1",
    "/.well-known/openid-configuration",
    "/etc/passwords-are-hard.html".replace("/etc/", "/blog/"),
    "Environment: production",
    "The /etcetera folder",
    "/scripts/file://$file/", // a template left unfilled in a crawler's URL
    "...",
    "./",
    "/",
    "a/b",
    "and/or...",
    "see /... for more",
    "/users/{id}",
    "max2e/0x10",
    "I attached dump.sql for you",
    "/misc/sample.log",
    "/docs/.well-known/x",
    "my.claude.ai",
    "/blog/2020/backup-strategies.html",
    "0x2e is the dot",
    "my.profile.page",
    "/downloads/schema.sql",
    "web config guide",
    "database.yml examples", // a file named in prose, without a path
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
  it("a lone dot-dot is not a segment", () => {
    expect(dotDotSegments("1.2..3")).toEqual({ count: 0, leading: false });
    expect(dotDotSegments("a/..")).toEqual({ count: 1, leading: false });
  });
});

describe("traversalDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        traversalDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const inputs = ["../", "..;", "/.", "etc/", "php:/", ".", "/", "\\", "%5c", "0x2e", "/..{", "a.sql"].map(
      (u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536),
    );
    for (const v of inputs) traversalDetector.inspect({ name: "ARGS:x", value: v }); // warm-up
    for (const v of inputs) {
      // Best of three, so a busy machine does not fail the test. the guard for 64 KiB is generous
      // (under 7 ms measured); quadratic work would take seconds.
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        traversalDetector.inspect({ name: "ARGS:x", value: v });
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
