import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { classifyHost, findUrls, SSRF_RULES, ssrfDetector } from "./ssrf.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:url"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      ssrfDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("ssrfDetector: cloud metadata", () => {
  const attacks = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0xA9.0xFE.0xA9.0xFE/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[::ffff:169.254.169.254]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[0:0:0:0:0:ffff:169.254.169.254]:80/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://169.254.169.254.nip.io/",
    "http://a9fea9fe.nip.io/",
    "http://169-254-169-254.sslip.io/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://METADATA.GOOGLE.INTERNAL./",
    "http://100.100.100.200/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/",
    "http://user:pass@169.254.169.254:80/",
    "gopher://169.254.169.254:80/_GET",
    "dict://169.254.169.254:80/",
    "//169.254.169.254/latest/",
    "169.254.169.254",
    "2852039166",
    "0xa9fea9fe",
    "[::ffff:169.254.169.254]",
    "169.254.169.254:80/latest/meta-data",
    "http%3A%2F%2F169.254.169.254%2Flatest%2F",
    "http%253A%252F%252F169.254.169.254%252F",
    "aHR0cDovLzE2OS4yNTQuMTY5LjI1NC9sYXRlc3Qv", // base64 of http://169.254.169.254/latest/
    "http://１６９.２５４.１６９.２５４/", // full-width digits, NFKC
    "http://169。254。169。254/", // ideographic full stops
    "http://rebind.example/latest/meta-data/", // DNS rebinding: the path gives it away
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ssrf-metadata");
  });
});

describe("ssrfDetector: internal URLs", () => {
  const attacks = [
    "http://127.0.0.1/admin",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0:8080/",
    "http://0x7f000001/",
    "http://017700000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f.1/",
    "http://[::1]/",
    "http://[::]:80/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[fe80::1%25eth0]/",
    "http://localhost/",
    "HTTP://LOCALHOST:6379/",
    "http://admin.localhost/",
    "http://127.0.0.1.nip.io/",
    "http://app.127.0.0.1.nip.io/",
    "http://app-10-0-0-1.sslip.io/",
    "http://10.0.0.1.xip.io/",
    "http://7f000001.nip.io/",
    "http://localtest.me/",
    "http://10.0.0.5/internal",
    "http://192.168.1.1/cgi-bin/",
    "http://172.16.0.1/",
    "https://evil.com@127.0.0.1/",
    "http:\\\\127.0.0.1\\admin",
    "ldap://127.0.0.1:389/",
    "redirect=http://127.0.0.1:22/",
    "//localhost/admin",
    "http%3A%2F%2F127.0.0.1%2F",
    "http://①②⑦.⓪.⓪.①/",
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("ssrf-internal-url");
  });
});

describe("ssrfDetector: schemes and RFI", () => {
  const cases: [string, string][] = [
    ["gopher://example.com:25/_HELO", "ssrf-dangerous-scheme"],
    ["dict://example.com:11211/stats", "ssrf-dangerous-scheme"],
    ["jar:http://evil.com/x.jar!/", "ssrf-dangerous-scheme"],
    ["netdoc://evil.com/x", "ssrf-dangerous-scheme"],
    ["http://evil.com/shell.txt?", "rfi-url-param"],
    ["http://evil.com/shell.txt??", "rfi-url-param"],
    ["https://evil.com/c99.php?", "rfi-url-param"],
    ["http://evil.com/shell.txt%00", "rfi-url-param"],
    ["ftp://evil.com/x.inc%00.php", "rfi-url-param"],
    ["HTTP://EVIL.COM/SHELL.TXT?", "rfi-url-param"],
    ["http%3A%2F%2Fevil.com%2Fshell.txt%3F", "rfi-url-param"],
    ["//evil.com/shell.txt?", "rfi-url-param"],
  ];
  it.each(cases)("%s → %s", (value, rule) => {
    expect(rulesAt(value)).toContain(rule);
  });

  it("reports PL2 and PL3 rules only at their levels", () => {
    expect(rulesAt("10.0.0.5")).toEqual([]);
    expect(rulesAt("10.0.0.5", 2)).toContain("ssrf-internal-host");
    expect(rulesAt("localhost", 2)).toContain("ssrf-internal-host");
    expect(rulesAt("[::1]:8080", 2)).toContain("ssrf-internal-host");
    expect(rulesAt("see http://93.184.216.34/x", 2)).toEqual([]);
    expect(rulesAt("see http://93.184.216.34/x", 3)).toContain("rfi-ip-host");
    // a value that is a URL to an IP literal is the RFI shape itself
    expect(rulesAt("http://93.184.216.34/x")).toContain("rfi-ip-url");
  });

  it("leaves file:// to the LFI detector", () => {
    expect(rulesAt("file:///etc/passwd", 4)).toEqual([]);
  });

  it("does not flag internal hosts in the request's own Referer, Origin or Host", () => {
    expect(rulesAt("http://localhost:3000/page", 4, "REQUEST_HEADERS:referer")).toEqual([]);
    expect(rulesAt("localhost:3000", 4, "REQUEST_HEADERS:host")).toEqual([]);
    expect(rulesAt("http://169.254.169.254/", 1, "REQUEST_HEADERS:referer")).toContain("ssrf-metadata");
  });

  it("tags and severities come from the rule table", () => {
    const [d] = ssrfDetector.inspect({ name: "ARGS:u", value: "http://127.0.0.1/" });
    expect(d).toEqual({
      rule: "ssrf-internal-url",
      tags: ["attack-ssrf", "internal-address"],
      paranoia: 1,
      severity: "critical",
      target: "ARGS:u",
    });
    for (const r of Object.values(SSRF_RULES)) expect(["attack-ssrf", "attack-rfi"]).toContain(r.tags[0]);
  });

  it("finds an internal URL after many benign ones", () => {
    const many = `${"https://example.com/a ".repeat(200)}http://127.0.0.1/`;
    expect(rulesAt(many)).toContain("ssrf-internal-url");
  });

  it("classifies hosts and finds URLs", () => {
    expect(classifyHost("169.254.169.254")).toBe("metadata");
    expect(classifyHost("127.1")).toBe("internal");
    expect(classifyHost("example.com")).toBe("name");
    expect(classifyHost("8.8.8.8")).toBe("public-ip");
    expect(classifyHost("8.8.8.8.nip.io")).toBe("name");
    expect(findUrls("see http://a.com/x and https://u@b.org:8443?q").map((u) => u.host)).toEqual([
      "a.com",
      "b.org",
    ]);
  });
});

describe("ssrfDetector: more hosts, spellings and RFI shapes", () => {
  const cases: [string, string, number][] = [
    ["https://metadata.packet.net/userdata", "ssrf-metadata", 1],
    ["http:127.0.0.1", "ssrf-internal-url", 1],
    ["http:2852039166", "ssrf-metadata", 1],
    ["http:/2852039166", "ssrf-metadata", 1],
    ["http:0xA9FEA9FE", "ssrf-metadata", 1],
    ["http:[::ffff:a9fe:a9fe]", "ssrf-metadata", 1],
    ["http:0251.0376.0251.0376", "ssrf-metadata", 1],
    ["http:123456789", "ssrf-obfuscated-host", 1],
    ["http://7147006462/", "ssrf-metadata", 1], // wraps past 32 bits to 169.254.169.254
    ["http://0x41414141A9FEA9FE/", "ssrf-metadata", 1],
    ["http://[0:0:0:0:0:0:169.254.169.254]", "ssrf-metadata", 1],
    ["http://[a::b]", "ssrf-obfuscated-host", 1],
    ["http://[dead:beef:dead::beef:dead:beef:dead]", "ssrf-obfuscated-host", 1],
    ["http://2130706434/", "ssrf-obfuscated-host", 1],
    ["http://google.com:80 &@google.com:80# @127.88.23.245:22/", "ssrf-obfuscated-host", 1],
    ["http://\\\\g\\\\o\\\\o\\\\g\\\\l\\\\e.\\\\c\\\\o\\\\m/", "ssrf-obfuscated-host", 1],
    ["http://example.com%2f@evil.com/", "ssrf-obfuscated-host", 1],
    ["http://example.com%2f:pw@evil.com/", "ssrf-obfuscated-host", 1],
    ["localhost/", "ssrf-internal-url", 1],
    ["LOCALHOST/admin", "ssrf-internal-url", 1],
    ["localhost4.localdomain4/", "ssrf-internal-url", 1],
    ["host.docker.internal/", "ssrf-internal-url", 1],
    ["http://host.containers.internal:8080/", "ssrf-internal-url", 1],
    ["kubernetes.default.svc.cluster.local/", "ssrf-internal-url", 1],
    ["http://66.240.183.75/crash.php", "rfi-ip-url", 1],
    ["https://[2001:41d0:701:1100::29c8]/gecko.php", "rfi-ip-url", 1],
    ["ftp%3A%2F%2F1.1.1.1", "rfi-ip-url", 1],
    ["https://foo.bar?", "rfi-trailing-question", 1],
    ["https?", "rfi-trailing-question", 1],
    ["file?", "rfi-trailing-question", 1],
    ["data:text/plain;base64,SSBsb3ZlIFBIUAo=", "rfi-data-uri", 1],
    ["DATA:TEXT/PLAIN", "rfi-data-uri", 1],
  ];
  it.each(cases)("%s → %s at PL%d", (value, rule, pl) => {
    expect(rulesAt(value, pl)).toContain(rule);
    if (pl > 1) expect(rulesAt(value, pl - 1)).not.toContain(rule);
  });

  it("reads a URL given to an include-like parameter as RFI", () => {
    expect(rulesAt("https://foo.bar", 1, "ARGS:_CONF[path]")).toContain("rfi-include-param");
    expect(rulesAt("https://foo.bar", 1, "ARGS:mosConfig_absolute_path")).toContain("rfi-include-param");
    expect(rulesAt("http://evil.example/x", 1, "ARGS_JSON:cfg.include")).toContain("rfi-include-param");
    // media links, other parameters and other targets
    expect(rulesAt("https://cdn.example.com/a/b.png", 1, "ARGS:image_path")).toEqual([]);
    expect(rulesAt("https://foo.bar", 1, "ARGS:next")).toEqual([]);
    expect(rulesAt("https://foo.bar", 1, "ARGS:pathology")).toEqual([]);
    expect(rulesAt("https://foo.bar", 1, "REQUEST_HEADERS:x-path")).toEqual([]);
  });

  it("flags an off-site URL at PL2 unless the parameter is named for a link", () => {
    expect(rulesAt("https://foo.bar", 2, "ARGS:x")).toEqual(["rfi-offsite-url"]);
    expect(rulesAt("https://foo.bar", 1, "ARGS:x")).toEqual([]);
    expect(rulesAt("ftp://foo.bar", 2, "XML:/root/a/@probe")).toEqual(["rfi-offsite-url"]);
    for (const name of ["ARGS:url", "ARGS:redirect_uri", "ARGS_JSON:user.avatarUrl", "ARGS:loc", "ARGS:next"])
      expect(rulesAt("https://example.com/a", 4, name)).not.toContain("rfi-offsite-url");
    expect(rulesAt("/get/https://example.com/", 2, "REQUEST_PATH")).toContain("rfi-url-in-path");
    expect(rulesAt("/get/https://example.com/", 1, "REQUEST_PATH")).toEqual([]);
    expect(rulesAt("https://example.com/", 4, "REQUEST_HEADERS:referer")).toEqual([]);
  });

  it("reads cookie names as values", () => {
    const rules = ssrfDetector
      .inspect({ name: "REQUEST_COOKIES_NAMES:http://2852039166/", value: "http://2852039166/" })
      .map((d) => d.rule);
    expect(rules).toContain("ssrf-metadata");
  });
});

describe("ssrfDetector: benign look-alikes at PL1", () => {
  const benign = [
    "https://example.com/a?b=c",
    "https://www.google.com/search?q=ssrf",
    "https://example.com/",
    "https://example.com/page?", // an empty query on a page, not a script include
    "https://cdn.example.com/app.js",
    "https://example.com/docs/readme.txt",
    "https://partner.example.org/callback?code=abc&state=xyz",
    "/account/settings",
    "10.0.0", // a version
    "version 10.0.0.5 released", // four-part versions exist (Windows builds)
    "127.50", // a price
    "$127.50",
    "0",
    "10",
    "2130706433", // a number that happens to be 127.0.0.1: ids this large are common
    "2024.01.15",
    "15.01.2024",
    "12:30:45",
    "run it on localhost first, then deploy",
    "my ip is 10.0.0.5", // an address in prose: nothing here is fetched
    "Please whitelist 192.168.1.10 on the VPN",
    "ratio 0.0.0.1 of the total",
    "Have you seen http://example.com/?",
    "metadata",
    "what is 169.254.x used for?",
    "mailto:someone@example.com",
    "user@localhost", // an address, not a URL
    "http://8.8.8.8.nip.io/",
    "gopher is a protocol",
    "http://1.2.3.4.example.com/", // a name that starts with digits
    "https://example.com/page??",
    "file? what file?",
    "http:8080",
    "http:0xABCDEF", // not a whole address
    "http:0xA9.0xFE.0xA9",
    "data://text/plain;base64,SSBsb3ZlIFBIUAo=", // the LFI detector's wrapper rule reads `data://`
    "data:image/png;base64,iVBORw0KGgo=",
    "the metadata of the file",
    "see https://medium.com/@alice/my-post",
    "10.0.0.0/8",
    "my.internal.wiki", // a bare name without a path
    "app.internal",
  ];
  it.each(benign)("%s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("ssrfDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        ssrfDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 300 },
    );
    const urlish = fc
      .array(
        fc.constantFrom(
          "http",
          "://",
          "//",
          "[",
          "]",
          ":",
          "@",
          ".",
          "0x",
          "127",
          "1",
          "?",
          "%",
          "nip.io",
          "/",
        ),
        {
          maxLength: 40,
        },
      )
      .map((a) => a.join(""));
    fc.assert(
      fc.property(urlish, (s) => {
        ssrfDetector.inspect({ name: "ARGS:x", value: s });
      }),
      { numRuns: 500 },
    );
  });
  it("stays linear on adversarial input", () => {
    const inputs = [
      "http://",
      "a://",
      ":/",
      "//",
      "[",
      "@",
      "1.",
      "127.0.0.1.nip.io/",
      "http://127.0.0.1/",
      "a-",
      "jar:http:/",
      "?",
      "x",
      "x://[",
      "a://b@",
      "http://[::1]",
      "0x7f.",
    ].map((u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536));
    // distinct IP-shaped hosts, so no host's classification is reused
    inputs.push(Array.from({ length: 6000 }, (_, n) => `a://${n.toString(16)}.1/`).join(""));
    inputs.push(`http://${"a".repeat(65536)}`, `//${"[".repeat(65536)}`, `${"a".repeat(65536)}://x`);
    for (const v of inputs) ssrfDetector.inspect({ name: "ARGS:x", value: v }); // warm-up
    for (const v of inputs) {
      // Best of three, so a busy machine does not fail the test; quadratic work would take seconds.
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        ssrfDetector.inspect({ name: "ARGS:x", value: v });
        best = Math.min(best, performance.now() - t0);
      }
      expect(best).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
