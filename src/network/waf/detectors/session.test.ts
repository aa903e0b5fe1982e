import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import type { InspectedRequest } from "../targets.ts";
import { SESSION_RULES, sessionDetector, sessionIdName, urlHost } from "./session.ts";

const SUPERLINEAR_GUARD_MS = 250;

const rulesAt = (value: string, pl = 1, name = "ARGS:q"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      sessionDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

const requestRules = (req: Partial<InspectedRequest>, pl = 1): string[] =>
  sessionDetector
    .inspectRequest({ method: "GET", path: "/", headers: {}, ...req })
    .filter((d) => d.paranoia <= pl)
    .map((d) => d.rule);

describe("sessionDetector: values that set a cookie", () => {
  const script = [
    'blah<script>document.cookie="sessionid=1234; domain=.example.dom";</script>',
    "document.cookie = 'PHPSESSID=abc'",
    "DOCUMENT.COOKIE='sid=1'",
    "%3Cscript%3Edocument.cookie%3D%22a%3Db%22%3C%2Fscript%3E",
    "document&#46;cookie=&quot;x=1&quot;",
    "document\\u002ecookie='x=1'",
  ];
  it.each(script)("script: %s", (v) => {
    expect(rulesAt(v)).toContain("session-cookie-set-script");
  });
  const meta = [
    '<meta http-equiv="Set-Cookie" content="SESSIONID=abc">',
    "<META HTTP-EQUIV=set-cookie CONTENT='a=b'>",
    "%3Cmeta%20http-equiv%3D%22set-cookie%22%20content%3D%22a%3Db%22%3E",
  ];
  it.each(meta)("meta: %s", (v) => {
    expect(rulesAt(v)).toContain("session-cookie-set-meta");
  });
  it.each(["x\r\nSet-Cookie: sid=attacker", "Set-Cookie: PHPSESSID=1", "foo%0d%0aSet-Cookie:%20a=b"])(
    "header line: %s",
    (v) => {
      expect(rulesAt(v)).toContain("session-cookie-set-header");
    },
  );
  it.each([".cookie;expires=", "x.cookie='sid=1; domain=.evil.com'", 'a.cookie = "s=1;  path=/"'])(
    "cookie string: %s",
    (v) => {
      expect(rulesAt(v)).toContain("session-cookie-string");
    },
  );
  const benign = [
    "Our cookie policy explains how we use cookies.",
    "I baked a cookie; expiration date is on the box",
    "The Set-Cookie header is described in RFC 6265.",
    "if (document.cookie === '') showBanner()", // a comparison, not an assignment
    "fortune cookie",
    "cookie_consent=1",
    "O'Brien's cookie shop",
  ];
  it.each(benign)("benign: %s", (v) => {
    expect(rulesAt(v)).toEqual([]);
  });
});

describe("sessionDetector: session-id parameters", () => {
  it.each([
    "PHPSESSID",
    "jsessionid",
    "ASP.NET_SessionId",
    "ASPSESSIONIDQQGGQGPG",
    "connect.sid",
    "laravel_session",
    "__Host-next-auth.session-token",
    "_myshop_session",
    "cftoken",
    "koa:sess",
    "zend_session_id",
  ])("session id name: %s", (n) => {
    expect(sessionIdName(n)).toBe("strong");
  });
  it.each(["sid", "session", "session_token"])("ambiguous: %s", (n) => {
    expect(sessionIdName(n)).toBe("weak");
  });
  it.each(["id", "user", "sessions_count", "possession", "q", "assid"])("not a session id: %s", (n) => {
    expect(sessionIdName(n)).toBeNull();
  });

  it("a session id from another site is fixation at PL1", () => {
    const headers = { Host: "app.example.com", Referer: "https://attacker.example.com/x" };
    expect(requestRules({ path: "/login?PHPSESSID=abc", headers })).toEqual(["session-fixation-param"]);
    expect(requestRules({ path: "/login;jsessionid=74B0CB41", headers })).toEqual(["session-fixation-param"]);
    expect(
      requestRules({
        path: "/login?PHPSESSID=abc",
        headers: { Host: "localhost", Referer: "https://localhost.evil.com/" },
      }),
    ).toEqual(["session-fixation-param"]);
  });
  it("with no Referer (a mailed link) too", () => {
    expect(requestRules({ path: "/?jsessionid=1", headers: { Host: "a.com" } })).toEqual([
      "session-fixation-param",
    ]);
  });
  it("in form, JSON and multipart bodies", () => {
    const headers = (ct: string) => ({ Host: "a.com", "Content-Type": ct });
    expect(
      requestRules({
        method: "POST",
        headers: headers("application/x-www-form-urlencoded"),
        body: Buffer.from("sessionid=1&u=2"),
      }),
    ).toEqual(["session-fixation-param"]);
    expect(
      requestRules({
        method: "POST",
        headers: headers("application/json"),
        body: Buffer.from('{ "phpsession":"foo" }'),
      }),
    ).toEqual(["session-fixation-param"]);
    const mp = '--b\r\nContent-Disposition: form-data; name="PHPSESSID"\r\n\r\nx\r\n--b--\r\n';
    expect(
      requestRules({
        method: "POST",
        headers: headers("multipart/form-data; boundary=b"),
        body: Buffer.from(mp),
      }),
    ).toEqual(["session-fixation-param"]);
  });
  it("from the same site it is URL rewriting: PL3 only", () => {
    const headers = { Host: "www.example.com:443", Referer: "https://example.com/cart" };
    expect(requestRules({ path: "/?PHPSESSID=abc", headers })).toEqual([]);
    expect(requestRules({ path: "/?PHPSESSID=abc", headers }, 3)).toEqual(["session-id-param-same-site"]);
  });
  it("ambiguous names wait for PL2", () => {
    const headers = { Host: "a.com" };
    expect(requestRules({ path: "/?sid=42", headers })).toEqual([]);
    expect(requestRules({ path: "/?sid=42", headers }, 2)).toEqual(["session-id-param-weak"]);
  });
  it("ordinary requests match nothing", () => {
    expect(requestRules({ path: "/search?q=session+cookies&page=2", headers: { Host: "a.com" } }, 4)).toEqual(
      [],
    );
    expect(requestRules({ path: "/", headers: { Host: "a.com", Cookie: "PHPSESSID=abc" } }, 4)).toEqual([]);
  });
  it("reads the host of a Referer", () => {
    expect(urlHost("https://user@Evil.com:8080/x?y")).toBe("evil.com");
    expect(urlHost("http")).toBe("");
    expect(urlHost("http://[::1]:80/")).toBe("[::1]");
  });
});

describe("sessionDetector: through the engine", () => {
  it("blocks a fixation link at PL1, registered in both lists", () => {
    const waf = createWaf({ detectors: [sessionDetector], requestDetectors: [sessionDetector] });
    const policy = { mode: "block" as const, paranoia: 1 as const, threshold: 5, exclusions: [] };
    const req = {
      method: "GET",
      path: "/login?asp.net_sessionid=abc",
      headers: { Host: "shop.com", Referer: "https://evil.net/" },
    };
    expect(waf.inspect(req, policy).blocked).toBe(true);
    expect(waf.inspect({ ...req, path: "/login?next=/home" }, policy).blocked).toBe(false);
  });
  it("every rule is tagged", () => {
    for (const info of Object.values(SESSION_RULES)) expect(info.tags).toContain("attack-fixation");
  });
});

describe("sessionDetector: robustness", () => {
  it("never throws", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        sessionDetector.inspect({ name: "ARGS:x", value: s });
        sessionDetector.inspectRequest({
          method: "POST",
          path: `/?${s}`,
          headers: { "content-type": "application/json", referer: s },
          body: Buffer.from(s),
        });
      }),
      { numRuns: 300 },
    );
  });
  it("stays linear on adversarial input", () => {
    const inputs = ["set-cookie", "<meta set-cookie", ".cookie;", "cookie", '"', '"a":', 'name="', "&"].map(
      (u) => u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536),
    );
    const best = (fn: () => void): number => {
      let ms = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        fn();
        ms = Math.min(ms, performance.now() - t0);
      }
      return ms;
    };
    for (const value of inputs) {
      expect(best(() => sessionDetector.inspect({ name: "ARGS:x", value }))).toBeLessThan(
        SUPERLINEAR_GUARD_MS,
      );
      for (const ct of [
        "application/json",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
      ]) {
        const req = {
          method: "POST",
          path: `/?${value}`,
          headers: { "content-type": ct },
          body: Buffer.from(value),
        };
        expect(best(() => sessionDetector.inspectRequest(req))).toBeLessThan(SUPERLINEAR_GUARD_MS);
      }
    }
  });
});
