// Fuzzing the WAF's parsers: decoders, the SQL tokeniser, every detector's own tokenising, the body
// parsers (JSON, multipart, XML, urlencoded) and whole requests. The WAF sees attacker input first,
// so the properties are: nothing throws, every call is fast even on 64 KiB of a repeated hostile
// fragment (catastrophic backtracking shows as a time failure), and the decoders' size bounds hold.
import fc from "fast-check";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  base64Decode,
  decodeLayers,
  htmlDecode,
  jsDecode,
  nfkc,
  removeNulls,
  shellCompact,
  sqlCompact,
  urlDecode,
  variants,
} from "./decode.ts";
import { lexSql } from "./detectors/sqli-lexer.ts";
import { builtInDetectors, createBuiltInWaf, type InspectedRequest, type WafPolicy } from "./index.ts";
import { requestTargets } from "./targets.ts";
import { timed as timedWithin } from "../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

/** Generous: a linear pass over 64 KiB takes well under a millisecond. */
const BOUND_MS = 1000;

const timed = <T>(what: string, fn: () => T, bound = BOUND_MS): T => timedWithin(what, fn, bound);

// Pieces of the syntaxes the decoders and tokenisers know, so random strings reach deep states.
const fragment = fc.constantFrom(
  "%",
  "%2",
  "%25",
  "%c0%af",
  "%u003c",
  "%00",
  "+",
  "&",
  "&#",
  "&#x",
  "&#0000000000060",
  "&lt",
  "&lt;",
  "&toString;",
  "\\",
  "\\x",
  "\\u",
  "\\u{",
  "\\u{10ffff}",
  "\\41 ",
  "'",
  '"',
  "`",
  "/*",
  "*/",
  "/*!",
  "--",
  "#",
  "${IFS}",
  "$@",
  "^",
  "<",
  ">",
  "<script",
  "<svg/onload=",
  "javascript:",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
  "=",
  ";",
  "|",
  "\n",
  "\r\n",
  "\t",
  " ",
  "\u0000",
  "\u00a0",
  "\ufeff",
  "\ud800",
  "\udc00",
  "\uff1c",
  "\u0301",
  "\ufdfa", // expands 18-fold under NFKC
  "\u00c0\u00af", // an overlong `/` read as Latin-1
  "UNION SELECT",
  " OR 1=1",
  "../",
  "..\\",
  "http://",
  "169.254.169.254",
  "[::1]",
  "@",
  "<!ENTITY",
  "<!--#exec",
  "$where",
  "query{",
  "9".repeat(40),
  "1e999999",
  "QUJDREVGR0hJSktMTU5PUA==",
  "a",
  "Z",
  "0",
);
const hostile = fc.oneof(
  { weight: 3, arbitrary: fc.array(fragment, { maxLength: 40 }).map((p) => p.join("")) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: "binary" }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200, unit: "grapheme" }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString("latin1")) },
);
/** A hostile fragment repeated up to 64 KiB: where backtracking or quadratic loops show. */
const repeated = fc
  .tuple(fc.array(fragment, { minLength: 1, maxLength: 4 }), fc.integer({ min: 500, max: 16_000 }))
  .map(([parts, times]) =>
    parts
      .join("")
      .repeat(times)
      .slice(0, 64 * 1024),
  );

const pl4: WafPolicy = { mode: "block", paranoia: 4, threshold: 5, exclusions: [] };
const waf = createBuiltInWaf();

beforeAll(() => {
  // Compile the detectors' code paths once, so the first timed call measures work, not the JIT.
  waf.inspect({ method: "GET", path: "/?q=1%27%20OR%201=1", headers: { "user-agent": "x" } }, pl4);
});

describe("decoders never throw and never grow a value past their bounds", () => {
  const decoders = fc.property(hostile, (s) => {
    expect(timed("urlDecode", () => urlDecode(s)).length).toBeLessThanOrEqual(s.length);
    expect(timed("urlDecode+", () => urlDecode(s, true)).length).toBeLessThanOrEqual(s.length);
    expect(timed("htmlDecode", () => htmlDecode(s)).length).toBeLessThanOrEqual(s.length);
    expect(timed("jsDecode", () => jsDecode(s)).length).toBeLessThanOrEqual(s.length);
    expect(timed("nfkc", () => nfkc(s)).length).toBeLessThanOrEqual(s.length * 2);
    expect(timed("decodeLayers", () => decodeLayers(s, 3)).length).toBeLessThanOrEqual(s.length);
    expect(timed("sqlCompact", () => sqlCompact(s)).length).toBeLessThanOrEqual(s.length);
    expect(timed("shellCompact", () => shellCompact(s)).length).toBeLessThanOrEqual(s.length);
    const b64 = timed("base64Decode", () => base64Decode(s));
    if (b64 !== null) expect(b64.length).toBeLessThanOrEqual(s.length);
    const forms = timed("variants", () => variants(s));
    expect(forms[0]).toBe(s);
    expect(forms.length).toBeLessThanOrEqual(10);
    expect(new Set(forms).size).toBe(forms.length);
  });

  it("on hostile strings", () => {
    fc.assert(decoders, { numRuns: 3000 });
  });

  it("on 64 KiB of a repeated fragment", () => {
    fc.assert(
      fc.property(repeated, (s) => {
        timed("urlDecode", () => urlDecode(s, true));
        timed("htmlDecode", () => htmlDecode(s));
        timed("jsDecode", () => jsDecode(s));
        timed("nfkc", () => nfkc(s));
        timed("decodeLayers", () => decodeLayers(s, 3));
        timed("sqlCompact", () => sqlCompact(s));
        timed("shellCompact", () => shellCompact(s));
        timed("base64Decode", () => base64Decode(s));
        timed("variants", () => variants(s));
      }),
      { numRuns: 200 },
    );
  });

  it("removing NULs and NFKC are idempotent", () => {
    fc.assert(
      fc.property(hostile, (s) => {
        const clean = removeNulls(s);
        expect(clean.includes("\0")).toBe(false);
        expect(removeNulls(clean)).toBe(clean);
        // Below the 2x cap NFKC is a normal form: applying it again changes nothing.
        const once = nfkc(s);
        if (once.length < s.length * 2) expect(nfkc(once)).toBe(once);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the SQL tokeniser", () => {
  it("returns at most maxTokens tokens, fast, in every quote context", () => {
    fc.assert(
      fc.property(
        fc.oneof(hostile, repeated),
        fc.constantFrom("", "'", '"', "`"),
        fc.integer({ min: 1, max: 4096 }),
        (s, quote, max) => {
          const tokens = timed("lexSql", () => lexSql(s, quote as "" | "'" | '"' | "`", max));
          expect(tokens.length).toBeLessThanOrEqual(max);
          for (const t of tokens) expect(typeof t.text).toBe("string");
        },
      ),
      { numRuns: 600 },
    );
  });
});

describe("every detector's inspect", () => {
  const names = fc.constantFrom(
    "ARGS:q",
    "ARGS_NAMES:q",
    "ARGS_JSON:a.b",
    "REQUEST_HEADERS:user-agent",
    "REQUEST_HEADERS:referer",
    "REQUEST_COOKIES:sid",
    "REQUEST_COOKIES_NAMES:sid",
    "REQUEST_FILENAME",
    "REQUEST_PATH",
    "REQUEST_BODY",
    "FILES:upload",
    "XML:/a/b",
  );
  const inspectAll = (value: string, name: string): void => {
    for (const form of variants(value)) {
      for (const d of builtInDetectors) {
        const found = timed(`${d.name} detector`, () => d.inspect({ name, value: form }));
        for (const hit of found) {
          expect(typeof hit.rule).toBe("string");
          expect(hit.target).toBe(name);
        }
      }
    }
  };

  it("on hostile values", () => {
    fc.assert(fc.property(hostile, names, inspectAll), { numRuns: 2500 });
  });

  it("on 64 KiB of a repeated fragment", () => {
    fc.assert(fc.property(repeated, names, inspectAll), { numRuns: 80 });
  });
});

// ---------------------------------------------------------------------------------------------
// Whole requests: the body parsers and header/cookie/query splitting, through the engine.

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(hostile, fc.constantFrom("__proto__", "constructor")),
    fc.double(),
    fc.constantFrom(1e308, -0, 2 ** 53 + 1, null, true),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.oneof(hostile, fc.constantFrom("__proto__", "constructor", "")), tie("value"), {
      maxKeys: 5,
    }),
  ),
})).value;

const deepJson = fc
  .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom("[", '{"a":'))
  .map(([depth, open]) => open.repeat(depth) + "1" + (open === "[" ? "]" : "}").repeat(depth));

const multipart = fc
  .tuple(fc.array(fc.tuple(hostile, hostile, hostile), { maxLength: 5 }), hostile, fc.boolean())
  .map(([parts, boundary, close]) => {
    const b = boundary.replace(/[\r\n"]/g, "") || "b";
    const body =
      parts
        .map(
          ([name, file, value]) =>
            `--${b}\r\nContent-Disposition: form-data; name="${name}"; filename="${file}"\r\n\r\n${value}\r\n`,
        )
        .join("") + (close ? `--${b}--\r\n` : "");
    return { type: `multipart/form-data; boundary="${b}"`, body };
  });

const xml = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small" },
    hostile.map((t) => t.replace(/[<&]/g, "")),
    fc
      .tuple(fc.constantFrom("a", "b:c", "x-y", "_"), fc.array(tie("node"), { maxLength: 4 }), hostile)
      .map(([tag, kids, attr]) => `<${tag} at="${attr.replace(/["<&]/g, "")}">${kids.join("")}</${tag}>`),
    fc.constantFrom(
      "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>",
      "<![CDATA[",
      "]]>",
      "<?xml ",
      "<!--",
      "-->",
    ),
  ),
})).node;

const body = fc.oneof(
  json.map((v) => ({ type: "application/json", body: JSON.stringify(v) ?? "null" })),
  deepJson.map((b) => ({ type: "application/json", body: b })),
  hostile.map((b) => ({ type: "application/json", body: b })),
  multipart,
  xml.map((b) => ({ type: "application/xml", body: b })),
  fc
    .tuple(fc.constantFrom("<a>", "<a x='1'>"), fc.integer({ min: 1, max: 20_000 }))
    .map(([open, depth]) => ({ type: "text/xml", body: open.repeat(depth) })),
  fc.array(fc.tuple(hostile, hostile), { maxLength: 20 }).map((kv) => ({
    type: "application/x-www-form-urlencoded",
    body: kv.map(([k, v]) => `${k}=${v}`).join("&"),
  })),
  fc.tuple(hostile, hostile).map(([type, b]) => ({ type, body: b })),
);

const request: fc.Arbitrary<InspectedRequest> = fc
  .record({
    method: fc.oneof(fc.constantFrom("GET", "POST", "PUT", "TRACE", "CONNECT"), hostile),
    path: fc.oneof(
      fc.tuple(hostile, hostile).map(([p, q]) => `/${p}?${q}`),
      hostile,
    ),
    headers: fc.dictionary(
      fc.oneof(
        fc.constantFrom("cookie", "user-agent", "host", "referer", "x-forwarded-for", "range"),
        hostile,
      ),
      fc.oneof(hostile, fc.array(hostile, { maxLength: 3 })),
      { maxKeys: 6 },
    ),
    body: fc.option(body, { nil: undefined }),
    httpVersion: fc.constantFrom("1.0", "1.1", "2.0", undefined),
  })
  .map(({ body: b, ...rest }) => {
    const headers: InspectedRequest["headers"] = { ...rest.headers };
    if (b !== undefined) headers["content-type"] = b.type;
    return {
      method: rest.method,
      path: rest.path,
      headers,
      ...(b !== undefined ? { body: Buffer.from(b.body) } : {}),
      ...(rest.httpVersion !== undefined ? { httpVersion: rest.httpVersion } : {}),
    };
  });

describe("whole requests", () => {
  it("parse into bounded targets and get a verdict without throwing", () => {
    fc.assert(
      fc.property(request, (req) => {
        const targets = timed("requestTargets", () => requestTargets(req));
        // 512 targets plus the few flags the parser adds when it stops.
        expect(targets.length).toBeLessThanOrEqual(520);
        const verdict = timed("waf.inspect", () => waf.inspect(req, pl4), 500);
        expect(Number.isFinite(verdict.score)).toBe(true);
        expect(verdict.blocked).toBe(verdict.score >= 5);
      }),
      { numRuns: 800 },
    );
  });
});
