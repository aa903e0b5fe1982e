import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { variants } from "../decode.ts";
import { createWaf } from "../engine.ts";
import type { InspectedRequest } from "../targets.ts";
import { PROTOCOL_RULES, parseMediaType, protocolDetector, protocolValueDetector } from "./protocol.ts";

const SUPERLINEAR_GUARD_MS = 250;

/** What an ordinary browser sends; each test changes one thing. */
const BROWSER = {
  host: "shop.example.com",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "accept-encoding": "gzip, deflate, br, zstd",
  "accept-language": "en-GB,en;q=0.9",
  connection: "keep-alive",
};

type Req = Omit<Partial<InspectedRequest>, "body"> & { body?: string | Buffer; drop?: string[] };

function request(o: Req = {}): InspectedRequest {
  const headers: Record<string, string | string[] | undefined> = { ...BROWSER, ...o.headers };
  for (const d of o.drop ?? []) delete headers[d];
  const body = typeof o.body === "string" ? Buffer.from(o.body, "latin1") : o.body;
  return {
    method: o.method ?? "GET",
    path: o.path ?? "/",
    headers,
    ...(body === undefined ? {} : { body }),
    ...(o.httpVersion === undefined ? {} : { httpVersion: o.httpVersion }),
  };
}

/** Request-level rules at paranoia `pl` or below. */
const rules = (o: Req, pl = 1): string[] =>
  protocolDetector
    .inspectRequest(request(o))
    .filter((d) => d.paranoia <= pl)
    .map((d) => d.rule)
    .sort();

/** Value rules over every decoded variant, as the engine runs them. */
const valueRules = (value: string, name = "ARGS:q", pl = 1): string[] => [
  ...new Set(
    variants(value).flatMap((v) =>
      protocolValueDetector
        .inspect({ name, value: v })
        .filter((d) => d.paranoia <= pl)
        .map((d) => d.rule),
    ),
  ),
];

const form = (body: string, method = "POST"): Req => ({
  method,
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body,
});

describe("protocolDetector: ordinary requests", () => {
  const benign: Req[] = [
    {},
    { path: "/search?q=caf%C3%A9+cr%C3%A8me&page=2" },
    { path: "/products/42?utm_source=news&utm_medium=email" },
    { path: "/download/report.pdf", headers: { range: "bytes=0-65535" } },
    { path: "/v.mp4", headers: { range: "bytes=1024-" } },
    { path: "/i?x=1&x=2" }, // duplicate names are PL3
    { path: "/?width=100%&note=24%25%20off" }, // a literal percent sign
    form("name=O%27Brien&comment=Hello%2C+world%0D%0ASecond+line&lang=%E4%BD%A0%E5%A5%BD"),
    { method: "POST", headers: { "content-type": "application/json; charset=utf-8" }, body: '{"a":1}' },
    { method: "POST", headers: { "content-type": "text/xml; charset=ISO-8859-1" }, body: "<a/>" },
    {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": "4" },
      body: "abcd",
    },
    { method: "DELETE", path: "/api/items/7" },
    { method: "OPTIONS", path: "*", drop: ["accept"] },
    { headers: { "cache-control": "max-age=0" } },
    { headers: { "cache-control": "no-cache, no-store" } },
    { headers: { "sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate", "sec-fetch-user": "?1" } },
    { headers: { cookie: "a=1; b=2; PHPSESSID=abc" } },
    { headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.2", forwarded: 'for="[2001:db8::1]";proto=https' } },
    { path: "/.well-known/security.txt" },
    { path: "/img/logo.png?v=2" },
    {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=----WebKitFormBoundaryx7" },
      body:
        '------WebKitFormBoundaryx7\r\nContent-Disposition: form-data; name="title"\r\n\r\nHoliday\r\n' +
        '------WebKitFormBoundaryx7\r\nContent-Disposition: form-data; name="photo"; filename="C:\\Users\\me\\beach.jpg"\r\n' +
        "Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff\x00\x01binary\r\n------WebKitFormBoundaryx7--\r\n",
    },
    { headers: { "content-range": "bytes 0-1023/4096" } },
    { httpVersion: "2.0" },
  ];
  it.each(benign.map((b, i) => [i, b] as const))("benign #%i matches nothing at PL1", (_, b) => {
    expect(rules(b)).toEqual([]);
  });
});

describe("protocolDetector: methods", () => {
  it.each(["FOO", "|GET", "REALLYLONGUNREALMETHOD", "get"])("invalid: %s", (method) => {
    expect(rules({ method })).toContain("protocol-method-invalid");
  });
  it.each(["TRACE", "TRACK", "DEBUG"])("dangerous: %s", (method) => {
    expect(rules({ method })).toContain("protocol-method-dangerous");
  });
  it.each(["SUBSCRIBE", "PURGE", "M-SEARCH"])("exotic: %s", (method) => {
    expect(rules({ method })).toContain("protocol-method-exotic");
  });
  it("WebDAV and CONNECT wait for PL2", () => {
    expect(rules({ method: "PROPFIND" })).toEqual([]);
    expect(rules({ method: "PROPFIND" }, 2)).toContain("protocol-method-uncommon");
    expect(rules({ method: "CONNECT", path: "example.com:443" }, 2)).toContain("protocol-method-uncommon");
  });
  it("method override with a method-shaped value, at PL2", () => {
    expect(rules({ method: "POST", path: "/api?_method=DELETE" }, 2)).toContain("protocol-method-override");
    expect(rules({ method: "POST", path: "/api?_method=%44%45%4C%45%54%45" }, 2)).toContain(
      "protocol-method-override",
    );
    expect(rules({ ...form("_method=put&id=1") }, 2)).toContain("protocol-method-override");
    expect(rules({ headers: { "x-http-method-override": "PATCH" } }, 2)).toContain(
      "protocol-method-override",
    );
    expect(rules({ method: "POST", path: "/api?_method=X" }, 2)).not.toContain("protocol-method-override");
    expect(rules({ ...form("_method=DEL+ETE") }, 2)).not.toContain("protocol-method-override");
  });
});

describe("protocolDetector: request target and version", () => {
  it("absolute-form to another host, or with userinfo", () => {
    expect(rules({ path: "http://evil.example/x" })).toContain("protocol-target-absolute-other-host");
    expect(rules({ path: "http://shop.example.com@evil.example/" })).toContain(
      "protocol-target-absolute-other-host",
    );
    expect(rules({ path: "http://shop.example.com/x" })).toEqual(["protocol-target-absolute"]);
  });
  it.each(["/a b", "/a\tb", "/caf\u00e9", "/a\u0000", "noslash"])("invalid target %j", (path) => {
    expect(rules({ path })).toContain("protocol-target-invalid-char");
  });
  it.each(["/a/../etc/passwd", "/a/./b", "/a/%2e%2e/b", "/a/%2E%2e%2Fb/", "/a/.."])(
    "dot segment %s",
    (path) => {
      expect(rules({ path })).toContain("protocol-target-dot-segment");
    },
  );
  it("dots in names and queries are fine", () => {
    expect(rules({ path: "/a..b/file.tar.gz?next=../x" })).not.toContain("protocol-target-dot-segment");
  });
  it.each(["0.9", "HTTP/4.0", "1.2"])("version %s", (httpVersion) => {
    expect(rules({ httpVersion })).toContain("protocol-version-invalid");
  });
  it("CR/LF encoded in the path", () => {
    expect(rules({ path: "/index.php/PHP%0Ainfo.php?QQQ" })).toContain("protocol-target-invalid-char");
  });
});

describe("protocolDetector: Host, User-Agent, Accept", () => {
  it("empty Host at PL1, missing Host at PL2", () => {
    expect(rules({ headers: { host: "" } })).toContain("protocol-host-empty");
    expect(rules({ drop: ["host"] })).toEqual([]);
    expect(rules({ drop: ["host"] }, 2)).toContain("protocol-host-missing");
  });
  it.each(["127.0.0.1", "1.2.3.4:8080", "[::1]", "[fe80::f1:01:fe01:1]:80"])("IP host %s at PL2", (host) => {
    expect(rules({ headers: { host } })).toEqual([]);
    expect(rules({ headers: { host } }, 2)).toContain("protocol-host-ip");
  });
  it("a host name with digits is not an IP", () => {
    expect(rules({ headers: { host: "123.example.com" } }, 4)).not.toContain("protocol-host-ip");
  });
  it("empty User-Agent or Accept score at PL1 (without blocking alone), missing ones later", () => {
    expect(rules({ drop: ["user-agent", "accept"] }, 2)).toContain("protocol-headers-minimal");
    expect(PROTOCOL_RULES["protocol-user-agent-empty"].severity).toBe("error");
    expect(rules({ headers: { "user-agent": "" } })).toContain("protocol-user-agent-empty");
    expect(rules({ headers: { accept: " " } })).toContain("protocol-accept-empty");
    expect(rules({ drop: ["user-agent"] })).toEqual([]);
    expect(rules({ drop: ["user-agent"] }, 2)).toContain("protocol-user-agent-missing");
    expect(rules({ drop: ["accept"] }, 2)).toEqual([]);
    expect(rules({ drop: ["accept"] }, 3)).toContain("protocol-accept-missing");
  });
  it("header names in any case", () => {
    const req = { method: "GET", path: "/", headers: { HOST: "", "User-Agent": "x", ACCEPT: "*/*" } };
    expect(protocolDetector.inspectRequest(req).map((d) => d.rule)).toContain("protocol-host-empty");
  });
});

describe("protocolDetector: framing", () => {
  it("a body on GET is anomalous, on HEAD or chunked on GET a violation", () => {
    expect(
      rules({ body: "hi=test", headers: { "content-type": "application/x-www-form-urlencoded" } }),
    ).toEqual(["protocol-body-on-get"]);
    expect(PROTOCOL_RULES["protocol-body-on-get"].severity).toBe("error");
    expect(rules({ method: "HEAD", body: "x", headers: { "content-type": "text/plain" } })).toContain(
      "protocol-body-on-head",
    );
    expect(rules({ headers: { "transfer-encoding": "chunked" } })).toContain("protocol-body-on-head");
  });
  it("conflicting and invalid framing headers", () => {
    const post = {
      method: "POST",
      body: "a=1",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    };
    expect(
      rules({ ...post, headers: { ...post.headers, "content-length": "3", "transfer-encoding": "chunked" } }),
    ).toContain("protocol-content-length-and-chunked");
    expect(rules({ ...post, headers: { ...post.headers, "content-length": "3, 4" } })).toContain(
      "protocol-content-length-invalid",
    );
    expect(rules({ ...post, headers: { ...post.headers, "content-length": "+3" } })).toContain(
      "protocol-content-length-invalid",
    );
    expect(
      rules({ ...post, headers: { ...post.headers, "transfer-encoding": "chunked, identity" } }),
    ).toContain("protocol-transfer-encoding-invalid");
    expect(rules({ ...post, headers: { ...post.headers, "transfer-encoding": "xchunked" } })).toContain(
      "protocol-transfer-encoding-invalid",
    );
  });
  it.each(["keep-alive, close", "close,close", "keep-alive, keep-alive"])("Connection %s", (connection) => {
    expect(rules({ headers: { connection } })).toContain("protocol-connection-conflict");
  });
  it("Content-Encoding on a request without a body, or with an unknown coding", () => {
    expect(rules({ headers: { "content-encoding": "deflate" } })).toContain("protocol-content-encoding");
    const gz = {
      method: "POST",
      body: "x",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
    };
    expect(rules(gz)).toEqual(["protocol-body-compressed"]);
    expect(PROTOCOL_RULES["protocol-body-compressed"].severity).toBe("error");
  });
  it("a body without Content-Type scores, but does not block alone", () => {
    expect(rules({ method: "POST", body: "test" })).toEqual(["protocol-body-without-content-type"]);
  });
});

describe("protocolDetector: media types and charsets", () => {
  const post = (ct: string, body = "a=1"): Req => ({
    method: "POST",
    headers: { "content-type": ct },
    body,
  });
  it.each([
    "%{(#nike='multipart/form-data').(#dm=@ognl",
    'text/plain; charset="UTF-8"; garbage',
    "multipart/form-data; boundary=  test",
    "text/xml; blah",
    "my-new-content-type",
    "application",
    'text/plain; charset="utf-8',
  ])("invalid syntax: %s", (ct) => {
    expect(rules(post(ct))).toContain("protocol-content-type-invalid");
  });
  it.each(["multipart/foo; boundary=0000", "foo/bar", "x-custom/thing"])("unknown type %s", (ct) => {
    expect(rules(post(ct))).toContain("protocol-content-type-unknown");
  });
  it.each(["garbage", "ibm037", "IBM037", "utf-7", "UTF-80", '"utf-88"', "utf-16"])("charset %s", (cs) => {
    expect(rules(post(`application/x-www-form-urlencoded; charset=${cs}`))).toContain(
      "protocol-charset-invalid",
    );
  });
  it.each(["utf-8", "UTF-8", "iso-8859-1", "Shift_JIS", "windows-1252", '"utf-8"'])(
    "charset %s is fine",
    (cs) => {
      expect(rules(post(`application/x-www-form-urlencoded; charset=${cs}`))).toEqual([]);
    },
  );
  it("Content-Type twice (in-process headers may repeat one in two cases)", () => {
    const req = {
      method: "POST",
      path: "/",
      headers: { ...BROWSER, "Content-Type": "application/json", "content-type": "text/plain" },
      body: Buffer.from("{}"),
    };
    expect(protocolDetector.inspectRequest(req).map((d) => d.rule)).toContain(
      "protocol-content-type-duplicate-param",
    );
  });
  it("a parameter twice, in any case", () => {
    expect(rules(post("application/x-www-form-urlencoded; charset=utf-8; CHARSET=utf-7"))).toContain(
      "protocol-content-type-duplicate-param",
    );
  });
  it("a boundary on a type that has none", () => {
    expect(rules(post('application/x-www-form-urlencoded;boundary="application/json"'))).toContain(
      "protocol-content-type-boundary-mismatch",
    );
  });
  it("charsets in Accept and Accept-Charset", () => {
    expect(rules({ headers: { accept: "text/html;q=0.9;charset=CP1026,*/*;q=0.8" } })).toContain(
      "protocol-charset-invalid",
    );
    expect(rules({ headers: { "accept-charset": "utf-8" } })).toEqual([]);
    expect(rules({ headers: { "accept-charset": "utf-8" } }, 2)).toContain("protocol-accept-charset");
    expect(rules({ headers: { "x-up-devcap-post-charset": "ibm500" } })).toContain(
      "protocol-charset-invalid",
    );
  });
  it("parses media types strictly", () => {
    expect(parseMediaType('Text/HTML; Charset="a\\"b";').params).toEqual([["charset", 'a"b']]);
    expect(parseMediaType("text/html ; charset=utf-8").valid).toBe(true);
    expect(parseMediaType("text/html; charset =utf-8").valid).toBe(false);
  });
});

describe("protocolDetector: multipart", () => {
  const B = "----WebKitFormBoundaryAbC";
  const mp = (parts: string, ct = `multipart/form-data; boundary=${B}`): Req => ({
    method: "POST",
    headers: { "content-type": ct },
    body: `${parts}--${B}--\r\n`,
  });
  const part = (headers: string, value = "v"): string => `--${B}\r\n${headers}\r\n\r\n${value}\r\n`;
  const field = (name: string): string => part(`Content-Disposition: form-data; name="${name}"`);

  it("a well-formed form is fine", () => {
    expect(rules(mp(field("a") + field("b")))).toEqual([]);
  });
  it("boundary missing or invalid", () => {
    expect(rules(mp(field("a"), "multipart/form-data"))).toContain("protocol-multipart-boundary");
    expect(rules(mp(field("a"), "multipart/related"))).toContain("protocol-multipart-boundary");
    expect(rules(mp(field("a"), `multipart/form-data; boundary="${"x".repeat(71)}"`))).toContain(
      "protocol-multipart-boundary",
    );
  });
  it.each(["fi=le", "fi;le", ";zzzz", "amp;zzz", "&amp;fi;zzz", "cv.p\\d\\f", "a'b"])(
    "evasive field name %s",
    (name) => {
      expect(rules(mp(field(name)))).toContain("protocol-multipart-name-evasion");
    },
  );
  it("evasive file names at PL1, odd ones at PL2", () => {
    const file = (fn: string): string => part(`Content-Disposition: form-data; name="f"; filename="${fn}"`);
    expect(rules(mp(file("1.j\\s\\p")))).toContain("protocol-multipart-name-evasion");
    expect(rules(mp(file("&amp;fi;zzz")))).toContain("protocol-multipart-name-evasion");
    expect(rules(mp(file("te;st.txt")))).toEqual([]);
    expect(rules(mp(file("te;st.txt")), 2)).toContain("protocol-multipart-filename-chars");
    expect(rules(mp(file("John's CV.pdf")), 2)).toContain("protocol-multipart-filename-chars");
    expect(rules(mp(file("C:\\Users\\me\\cv.pdf")), 2)).toEqual([]);
  });
  it("part charsets and transfer encodings", () => {
    const typed = (ct: string): string =>
      part(`Content-Disposition: form-data; name="a"\r\nContent-Type: ${ct}`);
    expect(rules(mp(typed("text/plain; charset=utf-7")))).toContain("protocol-multipart-charset");
    expect(rules(mp(typed("text/plain;  charset  =  utf-7")))).toContain("protocol-multipart-charset");
    expect(rules(mp(typed("text/plain; charset=shift-jis")))).toContain("protocol-multipart-charset");
    expect(rules(mp(typed("text/plain; charset=utf-8")))).toEqual([]);
    expect(rules(mp(part('Content-Disposition: form-data; name="_charset_"', "utf-7")))).toContain(
      "protocol-multipart-charset",
    );
    expect(rules(mp(part('Content-Disposition: form-data; name="_charset_"', "UTF-8")))).toEqual([]);
    expect(
      rules(
        mp(
          part(
            'Content-Disposition: form-data; name="a"\r\nContent-Transfer-Encoding: base64',
            "PHNjcmlwdD4=",
          ),
        ),
      ),
    ).toContain("protocol-multipart-transfer-encoding");
  });
  it("broken part headers and framing", () => {
    expect(rules(mp(part('X-Junk no colon\r\nContent-Disposition: form-data; name="a"')))).toContain(
      "protocol-multipart-part-header",
    );
    expect(rules(mp(part('Content-Disposition: form-data; name="a"; name="b"')))).toContain(
      "protocol-multipart-part-header",
    );
    expect(rules(mp(part('Content-Disposition: attachment; name="a"')))).toContain(
      "protocol-multipart-part-header",
    );
    expect(rules(mp(part("Content-Type: text/plain")))).toContain("protocol-multipart-part-header");
    const lf = {
      method: "POST",
      headers: { "content-type": "multipart/form-data; boundary=0000" },
      body: '--0000\nContent-Disposition: form-data; name="a"\n\nx\n--0000--\n',
    };
    expect(rules(lf)).toContain("protocol-multipart-malformed");
    expect(rules({ ...mp(field("a")), body: `junk--${B}\r\n` })).toContain("protocol-multipart-malformed");
  });
});

describe("protocolDetector: Range", () => {
  const range = (value: string, path = "/file.bin"): Req => ({
    path,
    headers: { range: value },
  });
  it("a last byte before the first", () => {
    expect(rules(range("bytes=0-,5-0,5-1"))).toContain("protocol-range-invalid");
    expect(rules(range("bytes=-10,-, 21-30"))).toContain("protocol-range-invalid");
  });
  it("overlapping ranges", () => {
    expect(rules(range("bytes=1-,11-20"))).toContain("protocol-range-overlap");
    expect(rules(range("bytes=0-99,50-150"))).toContain("protocol-range-overlap");
    expect(rules(range("bytes=0-99,100-150"))).toEqual([]);
  });
  it("many ranges at PL2, with room for PDF viewers", () => {
    const six = "bytes=10-11, 20-21, 30-31, 40-41, 50-51, 60-61";
    expect(rules(range(six))).toEqual([]);
    expect(rules(range(six), 2)).toContain("protocol-range-many");
    expect(rules(range(six, "/doc.pdf"), 2)).toEqual([]);
    expect(rules(range(six, "/doc%2Epdf"), 4)).toContain("protocol-range-many-strict");
  });
  it("a Range without a unit at PL3", () => {
    expect(rules(range("1-2"), 2)).toEqual([]);
    expect(rules(range("1-2"), 3)).toContain("protocol-range-syntax");
  });
});

describe("protocolDetector: restricted headers", () => {
  it.each([
    ["proxy", "http://evil:8080"],
    ["request-range", "bytes=0-1023"],
    ["content-range", "test"],
    ["if", "test"],
    ["lock-token", "<opaquelocktoken"],
    ["x-original-url", "/admin"],
  ])("%s", (name, value) => {
    expect(rules({ headers: { [name]: value } })).toContain("protocol-header-restricted");
  });
  it("WebDAV headers on WebDAV methods are fine", () => {
    expect(rules({ method: "UNLOCK", headers: { "lock-token": "<urn:uuid:x>" } }, 1)).toEqual([]);
  });
  it("legacy `$Version` cookies", () => {
    expect(
      rules({ headers: { cookie: '$Version=1; session="deadbeef; PHPSESSID=secret; dummy=qaz"' } }),
    ).toContain("protocol-cookie-legacy-version");
    expect(rules({ headers: { cookie: "price=$5" } })).toEqual([]);
  });
  it("long or unknown Accept-Encoding", () => {
    expect(rules({ headers: { "accept-encoding": `${"A".repeat(90)},${"B".repeat(20)}` } })).toContain(
      "protocol-accept-encoding-long",
    );
    expect(rules({ headers: { "accept-encoding": "foobar" } }, 3)).toContain("protocol-header-invalid-value");
  });
  it.each(["private", "foo=bar", "max-age=1, foo=bar", "max-age=1,,,max-stale=2", "max-age=abc"])(
    "Cache-Control %s at PL3",
    (cc) => {
      expect(rules({ headers: { "cache-control": cc } }, 2)).toEqual([]);
      expect(rules({ headers: { "cache-control": cc } }, 3)).toContain("protocol-header-invalid-value");
    },
  );
  it("forged browser headers at PL2", () => {
    expect(rules({ headers: { "sec-fetch-user": "foo" } }, 2)).toContain("protocol-header-browser-invalid");
    expect(rules({ headers: { "sec-ch-ua-mobile": "foo" } }, 2)).toContain("protocol-header-browser-invalid");
  });
  it("NUL and control chars in headers, raw or encoded", () => {
    expect(rules({ headers: { referer: "anything%00" } })).toContain("protocol-nul-byte");
    expect(rules({ headers: { cookie: "hi%13=bye" } }, 2)).toContain("protocol-control-char");
  });
  it("hostile forwarding headers at PL2", () => {
    expect(rules({ headers: { "x-forwarded-for": "1.2.3.4'<script>" } }, 2)).toContain(
      "protocol-header-forwarded-hostile",
    );
  });
});

describe("protocolDetector: arguments and encodings", () => {
  it("NUL bytes in names and values", () => {
    expect(rules({ path: "/?test%00=test1" })).toContain("protocol-nul-byte");
    expect(rules({ path: "/?param=foo%00" })).toContain("protocol-nul-byte");
    expect(rules(form("a=b%00c"))).toContain("protocol-nul-byte");
  });
  it("control chars at PL2, line breaks in names at PL1", () => {
    expect(rules({ path: "/?t=a%03" }, 2)).toContain("protocol-control-char");
    expect(rules({ path: "/?parameter%0d%0a=test" })).toContain("protocol-arg-name-newline");
    expect(rules({ path: "/get?a=test%0Dnext=more" }, 2)).toContain("protocol-arg-query-newline");
    expect(rules({ path: "/get?cmd=Go%20to%20store.%0AAt%20the%20store" }, 4)).not.toContain(
      "protocol-arg-query-newline",
    );
  });
  it("overlong and out-of-range UTF-8 at PL1; Latin-1 bytes at PL2", () => {
    expect(rules({ path: "/?p=%c0%af" })).toContain("protocol-utf8-overlong");
    expect(rules({ path: "/?p=%F5%80%BF%BF" })).toContain("protocol-utf8-overlong");
    expect(rules({ path: "/?p=%e0%80%af" })).toContain("protocol-utf8-overlong");
    expect(rules({ path: "/?p=%E2%A3" })).toEqual([]);
    expect(rules({ path: "/?p=caf%E9" }, 2)).toContain("protocol-utf8-invalid");
    expect(rules({ path: "/?p=%e4%bd%a0%e5%a5%bd" }, 4)).not.toContain("protocol-utf8-invalid");
  });
  it("IIS %u encoding", () => {
    expect(rules({ path: "/get?test=%uff0F" })).toContain("protocol-urlencoding-iis-fullwidth");
    expect(rules({ path: "/get?test=%u4E2D" })).toEqual([]);
    expect(rules({ path: "/get?test=%u4E2D" }, 2)).toContain("protocol-urlencoding-iis");
  });
  it("broken URL encoding: in the URI at PL1, in a form body at PL2; a literal percent sign is fine", () => {
    expect(rules({ path: "/?x=%1G" })).toContain("protocol-urlencoding-invalid");
    expect(rules({ path: "/a%zzb" })).toContain("protocol-urlencoding-invalid");
    expect(rules(form("param=%1G"))).toEqual([]);
    expect(rules(form("param=%1G"), 2)).toContain("protocol-urlencoding-invalid-body");
    expect(rules(form("x=new %w20$"), 2)).toContain("protocol-urlencoding-invalid-body");
    expect(rules(form("p=%7%6F%6D%65%"), 2)).toContain("protocol-urlencoding-invalid-body");
    expect(rules({ path: "/?parm=%25%37%33%25%36%46" }, 2)).toContain("protocol-urlencoding-double");
    expect(rules(form("payload=One quarter (24%) of people"), 2)).toEqual([]);
  });
  it("escaped ASCII letters (`\\u0061lert`) at PL1; escaped markup is what serialisers do", () => {
    expect(rules(form("testarg=%5Cu0061lert"))).toContain("protocol-unicode-escape");
    expect(rules(form("json=%5Cu003cb%5Cu003e"))).toEqual([]);
  });
  it("argument limits", () => {
    const many = Array.from({ length: 300 }, (_, i) => `p${i}=1`).join("&");
    // Counts and sizes are site limits: PL2, so a big admin form or a long article passes PL1.
    expect(rules({ path: `/?${many}` })).not.toContain("protocol-args-count");
    expect(rules({ path: `/?${many}` }, 2)).toContain("protocol-args-count");
    expect(rules({ path: `/?${"n".repeat(101)}=1` }, 2)).toContain("protocol-arg-name-length");
    expect(rules({ path: `/?v=${"1".repeat(5000)}` }, 2)).toContain("protocol-arg-value-length");
    expect(rules(form(`a=${"1".repeat(70000)}`))).toEqual([]);
    expect(rules(form(`a=${"1".repeat(70000)}`), 2)).toContain("protocol-args-total-length");
    expect(rules({ path: `/?token=${"x".repeat(1000)}` }, 1)).toEqual([]);
  });
  it("parameter pollution and array names at PL3-4", () => {
    expect(rules({ path: "/?a=1&a=2" }, 2)).toEqual([]);
    expect(rules({ path: "/?a=1&a=2" }, 3)).toContain("protocol-arg-duplicate");
    expect(rules({ path: "/?a[]=1&a[]=2" }, 3)).not.toContain("protocol-arg-duplicate");
    expect(rules({ path: "/?foo[1]a=bar" }, 3)).toContain("protocol-arg-name-brackets");
    expect(rules({ path: "/?foo[1][b]=bar" }, 3)).not.toContain("protocol-arg-name-brackets");
    expect(rules({ path: "/?foo[1]=bar" }, 4)).toContain("protocol-arg-name-array");
  });
  it("PL4 character whitelist and abnormal escapes", () => {
    expect(rules({ path: "/?test=test1%60HI" }, 4)).toContain("protocol-strict-chars");
    expect(rules({ path: "/?test=Hello%2C%20world" }, 4)).not.toContain("protocol-strict-chars");
    expect(rules({ path: "/?file=cat+/etc/pa\\ssw\\d" }, 4)).toContain("protocol-abnormal-escape");
    expect(rules({ path: "/?text=line\\nnext" }, 4)).not.toContain("protocol-abnormal-escape");
  });
  it("mod_proxy unix socket targets", () => {
    expect(rules({ path: "/?unix:AAAAAAAAA|http://example.org/" })).toContain("protocol-unix-socket-target");
    expect(rules({ path: "/?unix%3AAAAA|http://example.org/" })).toContain("protocol-unix-socket-target");
  });
});

describe("protocolDetector: file names", () => {
  it.each([
    "/get/foo.bak",
    "/foo.db",
    "/foo.bar.sql",
    "/dump%2Erdb",
    "/etc/letsencrypt/live/example.com/privkey.pem",
    "/.env",
    "/.git/config",
    "/app/.svn/entries",
    "/web.config",
    "/.htpasswd",
  ])("%s", (path) => {
    expect(rules({ path })).toContain("protocol-restricted-extension");
  });
  it.each(["/index.php~", "/index.php~/foo/bar/", "/#index.php#"])("editor backup %s", (path) => {
    expect(rules({ path })).toContain("protocol-backup-file");
  });
  it("configuration and logs only at PL3: sites publish samples", () => {
    expect(rules({ path: "/misc/sample.log" }, 2)).toEqual([]);
    expect(rules({ path: "/files/dhcpd.conf" }, 3)).toContain("protocol-config-extension");
  });
  it.each([
    "/environment",
    "/docs/backup-guide.html",
    "/db/items",
    "/sql-tutorial",
    "/.well-known/acme-challenge/x",
  ])("benign %s", (path) => {
    expect(rules({ path }, 2)).toEqual([]);
  });
});

describe("protocolValueDetector: request smuggling", () => {
  it.each([
    "\nPOST / HTTP/1.1",
    "aaa\nGET / HTTP/1.1",
    "aaa\rHEAD http://example.com/ HTTP/1.1",
    "GET http://www.foo.bar HTTP/1.2",
    "barGET /a.html HTTP/1.1\r\nHost: foo.com\r\n",
    "%0aPOST%20/%20HTTP/1.1",
  ])("%j", (v) => {
    expect(valueRules(v)).toContain("protocol-request-smuggling");
  });
  it.each([
    "Send a GET request and the server answers with HTTP/1.1 200",
    "we use GET /api HTTP/2 style routing in the docs",
    "HTTP/1.1 is older than HTTP/2",
  ])("benign %j", (v) => {
    expect(valueRules(v)).not.toContain("protocol-request-smuggling");
  });
});

describe("protocolValueDetector: header injection and response splitting", () => {
  it.each([
    "foobar\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK",
    "foobar%0d%0aContent-Length:%2002343432423<html>",
    "\r\nRemote-addr: foo.bar.com",
    "%0d%0arefresh:%20www.bar.com",
    "x\nLocation: https://evil.example/",
  ])("%j", (v) => {
    expect(valueRules(v)).toContain("protocol-header-injection");
  });
  it("any header name in names, headers and cookies; only known ones in values", () => {
    expect(
      valueRules("Headerdata%0dInjectedHeader: response_splitting_code", "REQUEST_HEADERS:someheader"),
    ).toContain("protocol-header-injection");
    expect(valueRules("Dear team,\r\nNote: the meeting moved", "ARGS:comment")).toEqual([]);
    expect(valueRules("Dear team,\r\nNote: the meeting moved", "ARGS:comment", 2)).toContain(
      "protocol-header-injection-generic",
    );
  });
  it("a forged response", () => {
    expect(valueRules("munchmuch%0d%0a%0d%0a<HTML><title></title></HTML>", "REQUEST_COOKIES:oreo")).toContain(
      "protocol-response-splitting",
    );
    expect(valueRules("a\r\n\r\nHTTP/1.1 200 OK", "ARGS:x")).toContain("protocol-response-splitting");
    expect(valueRules("Hello\r\n\r\nThanks, Ann", "ARGS:comment")).toEqual([]);
  });
  it("header names that read as prose need more than a line break", () => {
    expect(valueRules("Meeting notes\r\nLocation: Berlin\r\nHost: Ann", "ARGS:notes")).toEqual([]);
    expect(valueRules("x\r\nLocation: //evil.example", "ARGS:notes")).toContain("protocol-header-injection");
  });
  it("a header name without a value, or a raw body, is not an injection", () => {
    expect(valueRules("%0A%0Dlocation:%0A%0D")).toEqual([]);
    expect(valueRules("From: a@b\r\nContent-Type: text/plain\r\n\r\nhi", "REQUEST_BODY")).toEqual([]);
  });
  it("meta refresh", () => {
    expect(valueRules('foobar<meta http-equiv="Refresh" content="0; url=http://www.hacker.com/">')).toContain(
      "protocol-meta-http-equiv",
    );
    expect(valueRules('<meta http-equiv="content-type" content="text/html">')).toEqual([]);
  });
});

describe("protocolValueDetector: bodies the engine could not parse", () => {
  it("flags a JSON or XML parse failure, leaves multipart to the request rules", () => {
    expect(valueRules("Unexpected token } in JSON at position 5", "REQBODY_ERROR")).toEqual([
      "protocol-body-unparsable",
    ]);
    expect(valueRules("XML: unclosed <a>", "REQBODY_ERROR")).toEqual(["protocol-body-unparsable"]);
    expect(valueRules("multipart boundary not found", "REQBODY_ERROR")).toEqual([]);
  });
  it("through the engine", () => {
    const waf = createWaf({ detectors: [protocolValueDetector] });
    const policy = { mode: "block" as const, paranoia: 1 as const, threshold: 5, exclusions: [] };
    const json = (body: string): InspectedRequest =>
      request({ method: "POST", headers: { "content-type": "application/json" }, body });
    expect(waf.inspect(json('{"a":'), policy).blocked).toBe(true);
    expect(waf.inspect(json('{"a":1}'), policy).blocked).toBe(false);
  });
});

describe("protocol detectors: through the engine", () => {
  const waf = createWaf({ detectors: [protocolValueDetector], requestDetectors: [protocolDetector] });
  const policy = (paranoia: 1 | 2 | 3 | 4) => ({
    mode: "block" as const,
    paranoia,
    threshold: 5,
    exclusions: [],
  });
  it("blocks a critical violation at PL1 and lets a browser request through at PL4", () => {
    expect(waf.inspect(request({ method: "TRACE" }), policy(1)).blocked).toBe(true);
    expect(waf.inspect(request({ path: "/search?q=shoes" }), policy(4)).blocked).toBe(false);
  });
  it("two anomalies add up", () => {
    // A body without Content-Type scores 4; on a GET, the body scores 4 more.
    expect(waf.inspect(request({ method: "POST", body: "abc" }), policy(1)).blocked).toBe(false);
    expect(waf.inspect(request({ body: "abc" }), policy(1)).blocked).toBe(true);
  });
  it("every rule is tagged", () => {
    for (const info of Object.values(PROTOCOL_RULES)) expect(info.tags.length).toBeGreaterThan(0);
  });
});

describe("protocol detectors: robustness", () => {
  it("never throw", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (a, b) => {
        protocolValueDetector.inspect({ name: "ARGS:x", value: a });
        for (const ct of ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded", a])
          protocolDetector.inspectRequest({
            method: b.slice(0, 5) || "GET",
            path: `/${a}?${b}`,
            headers: { "content-type": ct, range: a, connection: b, accept: a, "cache-control": b, host: a },
            body: Buffer.from(`--x\r\n${b}\r\n\r\n${a}\r\n--x--`),
          });
      }),
      { numRuns: 300 },
    );
  });
  it("stay linear on adversarial input", () => {
    const units = [
      ")(",
      ")",
      "\r\n",
      "\nA:",
      " http/1",
      "GET ",
      "%",
      "%c0",
      "%u",
      "&",
      "a=",
      "[]",
      "=",
      ";",
      "\\",
      "--x\r\n",
    ];
    const time = (fn: () => void): number => {
      let best = Infinity;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        fn();
        best = Math.min(best, performance.now() - t0);
      }
      return best;
    };
    for (const u of units) {
      const v = u.repeat(Math.ceil(65536 / u.length)).slice(0, 65536);
      expect(time(() => protocolValueDetector.inspect({ name: "ARGS:x", value: v }))).toBeLessThan(
        SUPERLINEAR_GUARD_MS,
      );
      for (const ct of ["multipart/form-data; boundary=x", "application/x-www-form-urlencoded"])
        expect(
          time(() =>
            protocolDetector.inspectRequest({
              method: "POST",
              path: `/${v}?${v}`,
              headers: { "content-type": ct, range: `bytes=${v}`, cookie: v, "cache-control": v },
              body: Buffer.from(v),
            }),
          ),
        ).toBeLessThan(SUPERLINEAR_GUARD_MS);
    }
  });
});
