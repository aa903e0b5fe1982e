import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import { classifyCrlf, CRLF_RULES, crlfDetector, linesAfterBreaks } from "./crlf.ts";

// A guard against super-linear work, not a speed target: linear code takes a few ms here.
const SUPERLINEAR_GUARD_MS = 250;

/** Rules matched at paranoia `pl` or below over every decoded variant, as the engine runs them. */
const rulesAt = (value: string, pl = 1, name = "ARGS:q"): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      crlfDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

describe("crlfDetector: header injection", () => {
  const attacks = [
    "en%0d%0aSet-Cookie: session=attacker",
    "en\r\nSet-Cookie:crlf=injection",
    "/%0a%0dSet-cookie:crlf=injection",
    "%250d%250aSet-Cookie%3A%20a%3Db", // double-encoded
    "%25%30%44%25%30%41Set-cookie:crlf=injection", // `%0D%0A` with its digits encoded too
    "foo%E5%98%8A%E5%98%8DSet-Cookie:%20x=1", // wide chars that narrow to LF and CR
    "x\u560dSet-cookie:crlf=injection",
    "x\nLocation: http://evil.example/",
    "x\r\nLocation: //evil.example",
    "x\r\nRefresh: 0; url=http://evil.example/",
    "foobar%0d%0aContent-Length:%200",
    "foobar\r\nContent-Length: 02343432423<html>ftw</html>",
    "x\r\nContent-Type: text/html",
    "x\r\nTransfer-Encoding: chunked",
    "x\r\nAccess-Control-Allow-Origin: *",
    "x\r\nX-Forwarded-For: 127.0.0.1",
    "x\r\nHost: internal.example:8080",
    "x\r\nremote-addr: foo.bar.com",
    "x\r\nLink: <https://evil.example/x.css>; rel=stylesheet",
    "x&#13;&#10;Set-Cookie: a=b", // HTML entities in an XML attribute
    "x\\u000d\\u000aSet-Cookie: a=b", // JavaScript escapes
    "x%0D%0ASET-COOKIE: A=B",
    "x%0d%0a%20Set-Cookie:%20a=b",
    "x\r\nLocation: javascript:alert(1)",
    "%u000d%u000aSet-Cookie: a=b", // IIS %u escapes
  ];
  it.each(attacks)("%s", (value) => {
    expect(rulesAt(value)).toContain("crlf-header-injection");
  });

  it("finds a header in a request header's value after an encoded CR", () => {
    expect(
      rulesAt("Headerdata%0dInjectedHeader: response_splitting_code", 1, "REQUEST_HEADERS:x-custom"),
    ).toContain("crlf-header-injection");
  });

  const benign = [
    "Dear team,\r\nLocation: Berlin office\r\nHost: the Smiths\r\nThanks",
    "Meeting notes\nLocation: room 4\nTime: 10:00",
    "Shopping list:\nCookie: chocolate chip\nContent: flour, sugar",
    "Line one\nContent-Length: about 300 words",
    "Hi\nRefresh: tomorrow please",
    "x\r\nSet-Cookie:", // an empty header does nothing
    "%0A%0Dlocation:%0A%0D",
    "Zürich\nČeská republika\n上海", // wide chars alone are text
    "上Location: Berlin",
    "O'Brien\nSet up: tomorrow",
    "Set-Cookie: a=b", // no line break: a header's name in prose or docs
    "trailing newline\n",
  ];
  it.each(benign)("not at PL1: %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });

  it("reads a relayed header block (a raw mail) as PL2 only", () => {
    const raw = "Received: by mx.example.com\r\nContent-Type: text/plain\r\nFrom: a@example.com\r\n\r\nhello";
    expect(rulesAt(raw)).toEqual([]);
    expect(rulesAt(raw, 2)).toContain("crlf-header-block");
  });

  it("keeps URL-labelled lines after a first line of prose at PL2", () => {
    const invite =
      "Weekly sync with the team\r\nLocation: https://meet.example.com/abc-defg\r\nHost: db1.example.com";
    expect(rulesAt(invite)).toEqual([]);
    expect(rulesAt(invite, 2)).toContain("crlf-header-in-text");
    expect(rulesAt("Weekly sync\r\nSet-Cookie: a=b")).toContain("crlf-header-injection");
  });

  it("reads an HTTP message shown after prose or a Markdown fence as PL2 only", () => {
    for (const doc of [
      "```sh\r\nHTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive\r\nContent-Length: 31\r\nContent-Type: application/json\r\n",
      "Below is the request:\nGET /v1/users HTTP/1.1\nHost: api.example.com\nContent-Type: application/json",
    ]) {
      expect(rulesAt(doc)).toEqual([]);
      expect(rulesAt(doc, 2)).toContain("crlf-header-block");
    }
    // A blank line before the second message is what splitting needs: that stays PL1.
    expect(rulesAt("Hello there\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html")).toContain(
      "crlf-status-line",
    );
  });

  it("reads a pasted HTTP response as PL2 only", () => {
    const dump = "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nSet-Cookie: a=b\r\n\r\n";
    expect(rulesAt(dump)).toEqual([]);
    expect(rulesAt(dump, 2)).toContain("crlf-header-block");
  });

  it("keeps commit trailers out of PL1 and PL2", () => {
    const msg = "Fix the parser\n\nSigned-off-by: A Dev <dev@example.com>\nCo-authored-by: B <b@example.com>";
    expect(rulesAt(msg, 2)).toEqual([]);
  });

  it("is not fooled by a wide char inside CJK text without a header", () => {
    expect(classifyCrlf("上海市\n北京")).toEqual([]);
  });
});

describe("crlfDetector: response splitting and smuggling", () => {
  it.each([
    "foobar%0d%0aContent-Length:%200%0d%0a%0d%0aHTTP/1.1%20200%20OK%0d%0aContent-Type:%20text/html",
    "x\r\n\r\nHTTP/1.0 302 Found",
    "x\nhttp/2 200",
  ])("status line: %s", (value) => {
    expect(rulesAt(value)).toContain("crlf-status-line");
  });

  it.each([
    "%0aPOST / HTTP/1.1",
    "aaa%0aGET%20/%20HTTP/1.1",
    "aaa%0dHEAD http://example.com/ HTTP/1.1",
    "GET http://www.foo.bar HTTP/1.2", // a whole value that is a request line
    "x\r\nPROPFIND /dav/ HTTP/1.1",
  ])("request line: %s", (value) => {
    expect(rulesAt(value)).toContain("crlf-request-line");
  });

  it.each([
    "Please GET the file from the share, HTTP/1.1 is fine",
    "I get / HTTP errors",
    "get started with http/2",
    "POST /api/users",
  ])("not a request line: %s", (value) => {
    expect(rulesAt(value, 2)).toEqual([]);
  });

  it("finds a forged body after a blank line in a cookie, but not in a form field", () => {
    expect(rulesAt("munchmuch%0d%0a%0d%0a<HTML><title></title></HTML>", 1, "REQUEST_COOKIES:oreo")).toContain(
      "crlf-body-injection",
    );
    expect(rulesAt("Here is my snippet:\r\n\r\n<b>bold</b>", 1, "ARGS:comment")).toEqual([]);
  });
});

describe("crlfDetector: breaks where none belong", () => {
  it.each(["parameter\r\n", "%0d%0restofdata", "a\nb"])("argument name %s", (value) => {
    expect(rulesAt(value, 1, "ARGS_NAMES:x")).toContain("crlf-name-break");
  });
  it("ignores a trailing break in a name (a body posted from a file)", () => {
    expect(rulesAt('"! Y\n', 1, "ARGS_NAMES:x")).toEqual([]);
  });
  it.each(["/foo\nbar", "/index.php/PHP\ninfo.php"])("path %s", (value) => {
    expect(rulesAt(value, 1, "REQUEST_PATH")).toContain("crlf-path-break");
  });
  it("leaves a path with CJK text alone", () => {
    expect(rulesAt("/wiki/上海", 1, "REQUEST_PATH")).toEqual([]);
  });
  it("flags a decoded break in a request header at PL2 but not in the Referer", () => {
    expect(rulesAt("abc%0d%0adef", 2, "REQUEST_HEADERS:x-token")).toContain("crlf-header-break");
    expect(rulesAt("https://example.com/search?q=a%0Ab", 2, "REQUEST_HEADERS:referer")).toEqual([]);
  });
  it("skips raw bodies, which carry headers by design", () => {
    const batch =
      "--batch\r\nContent-Type: application/http\r\n\r\nGET /Items HTTP/1.1\r\nHost: x.example\r\n";
    expect(rulesAt(batch, 4, "REQUEST_BODY")).toEqual([]);
  });
});

describe("crlfDetector: escaped and generic forms", () => {
  it("reads `\\r\\n` escape text as a break at PL2 only", () => {
    const code = 'res.write("x\\r\\nSet-Cookie: a=b")';
    expect(rulesAt(code)).toEqual([]);
    expect(rulesAt(code, 2)).toContain("crlf-escaped-header");
  });
  it("flags any hyphenated header line at PL2", () => {
    expect(rulesAt("x\r\nX-Injected: yes", 2)).toContain("crlf-header-generic");
    expect(rulesAt("x\r\nX-Injected: yes", 1)).toEqual([]);
  });
});

describe("crlfDetector: meta http-equiv", () => {
  it.each([
    'foobar<meta http-equiv="Refresh" content="0; url=http://www.hacker.com/">',
    "<META HTTP-EQUIV=Set-Cookie CONTENT='a=b'>",
    "%3Cmeta%20http-equiv%3D%22refresh%22%20content%3D%220%22%3E",
  ])("%s", (value) => {
    expect(rulesAt(value)).toContain("crlf-meta-http-equiv");
  });
  it.each([
    '<meta http-equiv="Content-Type" content="text/html">',
    '<meta name="viewport" content="width=device-width">',
  ])("not %s", (value) => {
    expect(rulesAt(value)).toEqual([]);
  });
});

describe("crlfDetector: shape", () => {
  it("reports each rule with its table entry and the target's name", () => {
    const [d] = crlfDetector.inspect({ name: "ARGS:lang", value: "x\r\nSet-Cookie: a=b" });
    expect(d).toEqual({
      rule: "crlf-header-injection",
      ...CRLF_RULES["crlf-header-injection"],
      target: "ARGS:lang",
    });
  });
  it("splits lines after runs of breaks", () => {
    expect(linesAfterBreaks("a\r\n\r\nb\nc").map((l) => [l.start, l.end, l.feeds])).toEqual([
      [5, 6, 2],
      [7, 8, 1],
    ]);
  });
  it("stays linear on hostile input", () => {
    for (const value of [
      "\r\n".repeat(40000),
      "\nA:".repeat(30000),
      "\nGET ".repeat(20000),
      "<meta http-equiv".repeat(5000),
    ]) {
      const t = performance.now();
      classifyCrlf(value, "ARGS:q");
      classifyCrlf(value, "REQUEST_HEADERS:x");
      expect(performance.now() - t).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});

describe("crlfDetector: through the engine", () => {
  const waf = createWaf({ detectors: [crlfDetector] });
  const blocked = (path: string, headers: Record<string, string> = {}, body?: string): boolean =>
    waf.inspect(
      {
        method: body === undefined ? "GET" : "POST",
        path,
        headers,
        ...(body === undefined ? {} : { body: Buffer.from(body) }),
      },
      { mode: "block", paranoia: 1, threshold: 5, exclusions: [] },
    ).blocked;
  it.each([
    ["/%0d%0aSet-Cookie:crlf=injection"],
    ["/%25%30%44%25%30%41Set-cookie:crlf=injection"],
    ["/%e5%98%8dSet-cookie%3acrlf%3dinjection"],
    ["/redirect?next=%2Fhome%0d%0aLocation:%20http://evil.example/"],
    ["/get?parameter%0d%0a=test"],
  ])("blocks %s", (path) => {
    expect(blocked(path)).toBe(true);
  });
  it("blocks a header split inside a form field and a request header", () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    expect(blocked("/post", form, "lang=en%0d%0aContent-Length:%200")).toBe(true);
    expect(blocked("/", { "x-note": "a%0dInjected: b" })).toBe(true);
  });
  it("passes a multi-line form field of prose", () => {
    const form = { "content-type": "application/x-www-form-urlencoded" };
    const text = encodeURIComponent(
      "Dear team,\r\nLocation: Berlin\r\nHost: the Smiths\r\nSee https://example.com/a\r\n",
    );
    expect(blocked("/post", form, `message=${text}`)).toBe(false);
    expect(blocked("/search?q=hello%20world&page=2")).toBe(false);
  });
});
