import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_TARGET_LIMITS,
  requestTargets,
  type InspectedRequest,
  type TargetLimits,
} from "./targets.ts";
import { variants } from "./decode.ts";

// A guard against super-linear work, not a speed target (those live in bench/): linear code takes a
// few ms on 64 KiB here, quadratic work seconds; the bound leaves room for a loaded CI machine.
const SUPERLINEAR_GUARD_MS = 250;

const get = (path: string, headers: InspectedRequest["headers"] = {}): InspectedRequest => ({
  method: "GET",
  path,
  headers,
});
const post = (contentType: string, body: string | Buffer, limits?: Partial<TargetLimits>) =>
  requestTargets(
    { method: "POST", path: "/submit", headers: { "content-type": contentType }, body: Buffer.from(body) },
    { ...DEFAULT_TARGET_LIMITS, ...limits },
  );
const named = (targets: { name: string; value: string }[]) =>
  Object.fromEntries(targets.map((t) => [t.name, t.value]));

describe("path, query, headers and cookies", () => {
  it("decodes the path once and splits the query into ARGS", () => {
    const t = named(requestTargets(get("/static/..%2f..%252fetc/pass%77d.txt?q=%3Cb%3E+x&flag&a%5B%5D=1")));
    expect(t["REQUEST_PATH"]).toBe("/static/../..%2fetc/passwd.txt");
    expect(t["REQUEST_FILENAME"]).toBe("passwd.txt");
    expect(t["ARGS:q"]).toBe("<b> x");
    expect(t["ARGS:flag"]).toBe("");
    expect(t["ARGS_NAMES:a[]"]).toBe("a[]");
    expect(t["ARGS:a[]"]).toBe("1");
  });
  it("inspects headers except the noisy and secret ones, and parses cookies", () => {
    const t = named(
      requestTargets(
        get("/", {
          "User-Agent": "sqlmap/1.7",
          referer: "https://example.com/",
          "x-forwarded-for": ["1.1.1.1", "${jndi:ldap://x}"],
          authorization: "Bearer secret",
          "sec-ch-ua": '"Chromium";v="124"',
          cookie: "session=abc; theme=%27dark; flag",
        }),
      ),
    );
    expect(t["REQUEST_HEADERS:user-agent"]).toBe("sqlmap/1.7");
    expect(t["REQUEST_HEADERS:referer"]).toBe("https://example.com/");
    expect(t["REQUEST_HEADERS:x-forwarded-for"]).toBe("${jndi:ldap://x}"); // each value is a target
    expect(t["REQUEST_HEADERS:authorization"]).toBeUndefined();
    expect(t["REQUEST_HEADERS:sec-ch-ua"]).toBeUndefined();
    expect(t["REQUEST_HEADERS:cookie"]).toBeUndefined();
    expect(t["REQUEST_COOKIES:session"]).toBe("abc");
    expect(t["REQUEST_COOKIES:theme"]).toBe("%27dark");
    expect(t["REQUEST_COOKIES:flag"]).toBe("");
    expect(t["REQUEST_COOKIES_NAMES:flag"]).toBe("flag"); // a name is a value to inspect too
  });
});

describe("bodies", () => {
  it("parses urlencoded forms into ARGS", () => {
    const t = named(
      post("application/x-www-form-urlencoded; charset=utf-8", "user=O%27Brien&q=1+union+select"),
    );
    expect(t["ARGS:user"]).toBe("O'Brien");
    expect(t["ARGS:q"]).toBe("1 union select");
  });
  it("parses nested JSON, keys included", () => {
    const t = named(
      post(
        "application/json",
        '{"user":{"name":"x\' or 1=1","tags":["a",{"$where":"sleep(1)"}]},"n":7,"ok":true}',
      ),
    );
    expect(t["ARGS_JSON:user.name"]).toBe("x' or 1=1");
    expect(t["ARGS_JSON:user.tags[0]"]).toBe("a");
    expect(t["ARGS_JSON_NAMES:user.tags[1].$where"]).toBe("$where");
    expect(t["ARGS_JSON:user.tags[1].$where"]).toBe("sleep(1)");
    expect(t["ARGS_JSON:n"]).toBe("7");
    expect(t["ARGS_JSON:ok"]).toBeUndefined();
    expect(named(post("application/vnd.api+json", '"<script>"'))["ARGS_JSON:$"]).toBe("<script>");
    expect(named(post("application/json", '{"__proto__":{"admin":1}}'))["ARGS_JSON_NAMES:__proto__"]).toBe(
      "__proto__",
    );
  });
  it("parses multipart fields and file names, not file contents", () => {
    const body =
      "preamble\r\n--b0undary\r\n" +
      'Content-Disposition: form-data; name="comment"\r\n\r\n' +
      "<script>alert(1)</script>\r\n--b0undary\r\n" +
      'Content-Disposition: form-data; name="upload"; filename="shell.php"\r\nContent-Type: image/png\r\n\r\n' +
      "<?php system($_GET['c']); ?>\r\n--b0undary\r\n" +
      "Content-Disposition: form-data; name=\"doc\"; filename*=UTF-8''%2e%2e%2fx.jsp\r\n\r\n" +
      "x\r\n--b0undary\r\n" +
      'Content-Disposition: form-data; name="win"; filename="..\\1.7z \\"q\\""\r\n\r\n' +
      "x\r\n--b0undary--\r\n";
    const targets = post('multipart/form-data; boundary="b0undary"', body);
    const t = named(targets);
    expect(t["MULTIPART:comment"]).toBe("<script>alert(1)</script>");
    expect(t["FILES_NAMES:upload"]).toBe("shell.php");
    expect(t["FILES_NAMES:doc"]).toBe("../x.jsp");
    expect(t["FILES_NAMES:win"]).toBe('..\\1.7z "q"'); // backslashes as browsers send them
    expect(targets.some((x) => x.value.includes("system("))).toBe(false);
    expect(t["REQBODY_ERROR"]).toBeUndefined();
    const bare = "--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--";
    expect(named(post("multipart/form-data; boundary=x", bare))["MULTIPART:a"]).toBe("1");
  });
  it("scans XML text, CDATA, attributes and the DOCTYPE, without expanding entities", () => {
    const xml =
      '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' +
      "<r lang=\"en\"><user id='7'>&xxe;</user><q><![CDATA[1' or '1'='1]]></q><!-- <not-a-tag> --><e/></r>";
    const t = named(post("application/soap+xml", xml));
    expect(t["XML:!DOCTYPE"]).toContain('SYSTEM "file:///etc/passwd"');
    expect(t["XML:r/@lang"]).toBe("en");
    expect(t["XML:r/user/@id"]).toBe("7");
    expect(t["XML:r/user"]).toBe("&xxe;");
    expect(t["XML:r/q"]).toBe("1' or '1'='1");
    expect(t["REQBODY_ERROR"]).toBeUndefined();
  });
  it("inspects other bodies whole", () => {
    expect(named(post("text/plain", "hello; DROP TABLE x"))["REQUEST_BODY"]).toBe("hello; DROP TABLE x");
  });
  it.each([
    ["application/json", '{"a": [1, 2'],
    ["application/json", "{'single': 'quotes'}"],
    ["text/xml", "<a><b></a>"],
    ["text/xml", "<a x=1>t</a>"],
    ["text/xml", "<a><!-- never closed"],
    ["text/xml", "just text"],
    ["multipart/form-data", "--x\r\n\r\n"],
    ["multipart/form-data; boundary=x", "no boundary here"],
    ["multipart/form-data; boundary=x", '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\ncut off'],
    ["multipart/form-data; boundary=x", "--x\r\nContent-Type: text/plain\r\n\r\n1\r\n--x--"],
  ])("turns a malformed %s body into REQBODY_ERROR and REQUEST_BODY", (type, body) => {
    const t = named(post(type, body));
    expect(t["REQBODY_ERROR"]).toBeTruthy();
    expect(t["REQUEST_BODY"]).toBe(body);
  });
});

describe("limits", () => {
  it("inspects the start and the end of a long value, and flags the cut", () => {
    const targets = post(
      "application/x-www-form-urlencoded",
      `a=${"h".repeat(60)}${"m".repeat(20)}${"t".repeat(40)}`,
      { maxValueLength: 40 },
    );
    expect(targets.filter((t) => t.name === "ARGS:a").map((t) => t.value)).toEqual([
      "h".repeat(40),
      "t".repeat(40),
    ]);
    const t = named(targets);
    expect(t["REQUEST_HEADERS:content-type"]).toBe("application/x-www-form-urlencoded");
    expect(t["LIMIT:truncated"]).toBe("ARGS:a");
  });
  it("parses the first maxBodyBytes and inspects the end of the body as text, without calling the cut a protocol error", () => {
    const body = `{"a":"${"x".repeat(100)}","b":"<script>"}`;
    const targets = post("application/json", body, { maxBodyBytes: 20, maxValueLength: 30 });
    const t = named(targets);
    expect(t["LIMIT:truncated"]).toBe("REQUEST_BODY");
    expect(t["REQBODY_ERROR"]).toBeUndefined();
    expect(targets.filter((x) => x.name === "REQUEST_BODY").map((x) => x.value)).toEqual(
      expect.arrayContaining([body.slice(0, 20), body.slice(-30)]),
    );
  });
  it("stops at maxTargets", () => {
    const targets = post("application/x-www-form-urlencoded", "a=1&".repeat(1000), { maxTargets: 50 });
    expect(targets.length).toBeLessThanOrEqual(52);
    expect(named(targets)["LIMIT:targets"]).toBeDefined();
  });
  it("does not follow JSON or XML past maxDepth", () => {
    const json = named(post("application/json", '{"a":{"b":{"c":{"d":"deep"}}},"top":"x"}', { maxDepth: 2 }));
    expect(json["ARGS_JSON:a.b.c.d"]).toBeUndefined();
    expect(json["ARGS_JSON:top"]).toBe("x");
    expect(json["LIMIT:depth"]).toBe("ARGS_JSON:a.b");
    const xml = named(post("text/xml", "<a><b><c><d>deep</d></c></b></a>", { maxDepth: 2 }));
    expect(xml["XML:a/b"]).toBe("deep"); // still inspected, under the deepest path kept
    expect(xml["LIMIT:depth"]).toBe("XML:a/b");
  });
  it("caps target names but keeps the whole name as a value", () => {
    const long = "n".repeat(1000);
    const t = requestTargets(get(`/?${long}=1`)).find((x) => x.name.startsWith("ARGS_NAMES:"))!;
    expect(t.name).toHaveLength(256);
    expect(t.value).toBe(long);
  });
  it("accepts a JSON body with a byte order mark", () => {
    expect(named(post("application/json", '\ufeff{"a":"b"}'))["ARGS_JSON:a"]).toBe("b");
  });
  it("skips headers as configured", () => {
    const t = named(
      requestTargets(get("/", { accept: "*/*" }), {
        ...DEFAULT_TARGET_LIMITS,
        skipHeaders: new Set(["accept"]),
      }),
    );
    expect(t["REQUEST_HEADERS:accept"]).toBeUndefined();
  });
});

describe("hostile input", () => {
  const types = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "multipart/form-data",
    "text/xml",
    "text/plain",
    "",
  ];
  // Fragments of every body grammar, shuffled: reaches deeper parser states than random bytes.
  const fragments = [
    "--x",
    "\r\n",
    'Content-Disposition: form-data; name="a"',
    "; filename=",
    '"',
    "'",
    "<a",
    ">",
    "</a>",
    "/>",
  ];
  const more = [
    "<!DOCTYPE",
    "[",
    "]",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "{",
    "}",
    '"k":',
    ",",
    "=",
    "&",
    "%",
    "\\u",
  ];
  const structured = fc
    .array(fc.constantFrom(...fragments, ...more), { maxLength: 40 })
    .map((parts) => parts.join(""));
  it("never throws on arbitrary bodies, content types and paths (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...types), fc.string()),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.string({ unit: "binary", maxLength: 300 }),
          structured,
        ),
        fc.string({ maxLength: 100 }),
        (contentType, body, path) => {
          const targets = requestTargets({
            method: "POST",
            path,
            headers: { "content-type": contentType, cookie: path },
            body: Buffer.from(body),
          });
          for (const t of targets) {
            if (typeof t.value !== "string" || typeof t.name !== "string")
              throw new Error(`bad target ${t.name}`);
            variants(t.value);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  // 64 KiB of adversarial body per parser must normalise quickly: targets and every variant of
  // every target. The budget (SUPERLINEAR_GUARD_MS) is generous for a shared CI core; a warm-up run first keeps
  // JIT compilation out of the measurement. Measured medians: 0.1-2.5 ms.
  const size = 64 * 1024;
  const bodies: Array<[string, string, string]> = [
    ["nested JSON arrays", "application/json", "[".repeat(size / 2) + "]".repeat(size / 2)],
    ["nested JSON objects", "application/json", '{"a":'.repeat(size / 10) + "1" + "}".repeat(size / 10)],
    ["wide JSON", "application/json", "[" + '"%u%u%u",'.repeat(size / 9) + "1]"],
    ["deep XML", "text/xml", "<a>".repeat(size / 7) + "</a>".repeat(size / 7)],
    ["XML declarations", "text/xml", "<!>".repeat(size / 3)],
    ["XML attributes", "text/xml", "<a " + 'x="&#'.repeat(size / 5) + ">"],
    ["XML comments", "text/xml", "<a><!--".repeat(size / 7)],
    ["form of percents", "application/x-www-form-urlencoded", "a=" + "%".repeat(size)],
    ["form of pairs", "application/x-www-form-urlencoded", "&=".repeat(size / 2)],
    ["multipart boundaries", "multipart/form-data; boundary=x", "--x\r\n".repeat(size / 5)],
    [
      "multipart parts",
      "multipart/form-data; boundary=x",
      '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n&#\\u%\r\n'.repeat(size / 60),
    ],
  ];
  for (const [name, type, body] of bodies) {
    it(`normalises 64 KiB of ${name} without super-linear work`, () => {
      const run = (): void => {
        for (const t of post(type, body)) variants(t.value);
      };
      run();
      const start = performance.now();
      run();
      expect(performance.now() - start).toBeLessThan(SUPERLINEAR_GUARD_MS);
    });
  }
});

describe("what XML and uploads hide", () => {
  it("keeps XML comments and processing instructions as targets (SSI, ESI, encodings live there)", () => {
    const t = named(
      post("application/xml", '<?xml version="1.0" encoding="UTF-7"?><r><!--#exec cmd="id"--><a>1</a></r>'),
    );
    expect(t["XML:?"]).toBe('<?xml version="1.0" encoding="UTF-7"?>');
    expect(t["XML:!--"]).toBe('<!--#exec cmd="id"-->');
    expect(t["XML:r/a"]).toBe("1");
  });
  it("reads the content of XML uploads, and of no other file", () => {
    const part = (name: string, file: string, type: string, content: string) =>
      `--b\r\nContent-Disposition: form-data; name="${name}"; filename="${file}"\r\nContent-Type: ${type}\r\n\r\n${content}\r\n`;
    const body = `${part("logo", "logo.svg", "image/svg+xml", "<svg/>")}${part("doc", "a.bin", "application/xml", "<x/>")}${part("pic", "a.png", "image/png", "PNG")}--b--`;
    const t = named(post("multipart/form-data; boundary=b", body));
    expect(t["FILES:logo"]).toBe("<svg/>");
    expect(t["FILES:doc"]).toBe("<x/>");
    expect(t["FILES:pic"]).toBeUndefined();
    expect(t["FILES_NAMES:pic"]).toBe("a.png");
  });
});
