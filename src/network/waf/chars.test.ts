// The detectors' prefilters (`Detector.needs`) never skip a value their detector would flag: on
// random strings, on strings built from the trigger characters and on attack samples, and on every
// value of the WAF dev set when it is there (../shared/eval/waf, or WAF_EVAL_DIR), each detector
// with a prefilter finds nothing wherever the prefilter skips it, and the engine with the
// prefilters gives the verdicts of the engine without them.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CHAR_ALL, CHAR_BREAK, CHAR_LT, CHAR_NON_ASCII, charBits } from "./chars.ts";
import { variants } from "./decode.ts";
import { builtInDetectors, builtInRequestDetectors, createWaf, type WafPolicy } from "./index.ts";
import { type InspectedRequest, requestTargets } from "./targets.ts";
import type { Detector, Target } from "./types.ts";

const prefiltered = builtInDetectors.filter((d) => d.needs !== undefined);

/** Whether the engine skips `d` on this target. */
const skips = (d: Detector, t: Target): boolean =>
  (charBits(t.value) & d.needs!.bits) === 0 && !(d.needs!.anyway?.(t.value, t.name) ?? false);

/** Every skipped (detector, target) pair must be one the detector finds nothing in. */
function expectNoMissedFinding(targets: Iterable<Target>): number {
  let skipped = 0;
  for (const t of targets)
    for (const d of prefiltered)
      if (skips(d, t)) {
        skipped++;
        const found = d.inspect(t);
        if (found.length > 0) expect({ detector: d.name, target: t, found }).toBeUndefined();
      }
  return skipped;
}

const NAMES = [
  "ARGS:q",
  "ARGS_NAMES:q",
  "REQUEST_HEADERS:user-agent",
  "REQUEST_HEADERS:referer",
  "REQUEST_COOKIES:session",
  "REQUEST_PATH",
  "REQUEST_FILENAME",
  "REQUEST_BODY",
  "XML:a/@href",
  "XML:xs:schema/xs:include/@schemaLocation",
  "ARGS_JSON:query",
  "ARGS_JSON:[12].query",
  "MULTIPART:x",
  "REQBODY_ERROR",
  "REQUEST_HEADERS:x-scanner",
];

// Each family's own triggers and their near misses, and every char the prefilters test.
const ALPHABET = [
  ..."<>$()[]{}:;|&_'\"\\/+\n\r\t =%*!#@.,-~`?^0189aAbCDdeEiIlLmMnNoOpPqrRsStTuUxXyYzZ",
  "\u00e9",
  "\u0130",
  "\u2028",
  "\uff1c",
  "+ADw-",
  "<!--#exec cmd=",
  "<esi:include src=",
  "$(HTTP_COOKIE)",
  "<!ENTITY x SYSTEM ",
  "<xi:include ",
  "__schema",
  "query{a{b}}",
  "(|(uid=*))",
  "(cn:dn:=x)",
  "' or '1'='1",
  "//user[name/text()='",
  "count(/child::node())",
  "$where",
  '{"$ne":1}',
  "db.users.find(",
  "||1==1",
  "\r\nBcc: a@b.c",
  "\nRCPT TO:<a@b>",
  "\nA1 FETCH 1:* BODY[]",
  "DQpCY2M6IGFAYi5j",
  "CgpEQVRB",
  "GET / HTTP/1.1\r\nHost: x",
  "HTTP/1.1 200 OK",
  '<meta http-equiv="refresh"',
  "%0d%0a",
  "\\r\\nSet-Cookie:",
  "Set-Cookie: a=b",
  "Location: http://x",
  "w",
  "wv",
  "wvs",
  "testphp.vulnweb.com",
  "netsparker(0x",
  ".oast.fun",
  "nice ports,/Trinity.txt.bak",
  "http-equiv",
  "GET /x HTTP/1.1",
];

const SAMPLES = [
  '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
  "+ADw-!DOCTYPE x +AFs-+ADw-!ENTITY e SYSTEM +ACI-file:///etc/passwd+ACI-+AD4-+AF0-+AD4-",
  '<xi:include href="file:///etc/passwd" parse="text"/>',
  "http://evil.example/schema.xsd",
  '<!--#exec cmd="ls" -->',
  '<esi:include src="http://evil.example/"/>',
  "$(HTTP_COOKIE{'session'})",
  "*)(uid=*))(|(uid=*",
  "admin)(&)",
  "x)(cn:dn:=admin",
  "' or count(/*)=1 or '",
  "//user[position()=1]/password",
  '{"$gt": ""}',
  "'; return db.users.find(); var x='",
  "true || this.password.match(/.*/)",
  "{__schema{types{name fields{name}}}}",
  "query { a1: me { id } a2: me { id } a3: me { id } }",
  "x\r\nBcc: victim@example.com",
  "x\nRCPT TO:<victim@example.com>",
  "DQpCY2M6IGFAYi5j",
  "foo\r\nSet-Cookie: session=attacker",
  "GET /admin HTTP/1.1",
  "x%0d%0aLocation:%20http://evil.example",
  "abc\u560a\u560dSet-Cookie: a=b",
  "x.oast.fun",
  "http://abc.burpcollaborator.net/x",
  "netsparker(0x000123)",
  'x<meta http-equiv="refresh" content="0;url=http://evil.example">',
];

const value = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 12 }),
  fc.constantFrom(...SAMPLES),
);

const devSetDir = process.env.WAF_EVAL_DIR ?? join(import.meta.dirname, "../../../../shared/eval/waf");

interface Sample {
  method: string;
  uri: string;
  headers: Record<string, string>;
  body: string | null;
}

/** The dev set's requests, or none where it is not checked out. */
function devSetRequests(): InspectedRequest[] {
  const files = ["dev-attack.jsonl", "dev-benign.jsonl"].map((f) => join(devSetDir, f));
  if (!files.every((f) => existsSync(f))) return [];
  return files.flatMap((f) =>
    readFileSync(f, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        const s = JSON.parse(l) as Sample;
        return {
          method: s.method,
          path: s.uri,
          headers: s.headers,
          ...(s.body === null ? {} : { body: Buffer.from(s.body) }),
        };
      }),
  );
}

describe("charBits", () => {
  it("sets a bit for each trigger char and only for those (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 20 }), (s) => {
        const bits = charBits(s);
        expect(bits & ~CHAR_ALL).toBe(0);
        expect((bits & CHAR_LT) !== 0).toBe(s.includes("<"));
        expect((bits & CHAR_BREAK) !== 0).toBe(/[\r\n]/.test(s));
        expect((bits & CHAR_NON_ASCII) !== 0).toBe(/[^\0-\x7f]/.test(s));
        for (const ch of s) expect(charBits(ch) & ~bits).toBe(0);
      }),
    );
    expect(charBits("calle diamante, 57")).toBe(0);
  });
});

describe("detector prefilters", () => {
  it("cover the detectors that have one", () => {
    expect(prefiltered.map((d) => d.name).sort()).toEqual(
      ["crlf", "graphql", "ldap", "mail", "nosql", "protocol", "scanner", "ssi", "xpath", "xxe"].sort(),
    );
  });

  it("never skip a value their detector flags: attack samples, each decoded variant", () => {
    const targets = SAMPLES.flatMap((s) =>
      variants(s).flatMap((v) => NAMES.map((name) => ({ name, value: v }))),
    );
    expectNoMissedFinding(targets);
    // and nearly every sample is flagged by a prefiltered detector, so the check is not vacuous
    const flagged = SAMPLES.filter((s) =>
      variants(s).some((v) =>
        prefiltered.some((d) => NAMES.some((name) => d.inspect({ name, value: v }).length > 0)),
      ),
    );
    expect(flagged.length).toBeGreaterThanOrEqual(SAMPLES.length - 3);
  });

  it("never skip a value their detector flags: random strings (property)", () => {
    fc.assert(
      fc.property(fc.constantFrom(...NAMES), value, (name, v) => {
        expectNoMissedFinding(variants(v).map((value) => ({ name, value })));
      }),
      { numRuns: 3000 },
    );
  });

  const devSet = devSetRequests();
  it(`never skip a value their detector flags: the dev set's ${devSet.length} requests`, () => {
    let skipped = 0;
    for (const q of devSet)
      for (const t of requestTargets(q))
        skipped += expectNoMissedFinding(variants(t.value).map((value) => ({ name: t.name, value })));
    if (devSet.length > 0) expect(skipped).toBeGreaterThan(0);
  }, 300_000);

  it("leave the engine's verdicts as they are without them (property)", () => {
    const unfiltered = builtInDetectors.map((d) => ({ name: d.name, inspect: d.inspect.bind(d) }));
    const policy: WafPolicy = { mode: "detect", paranoia: 4, threshold: 5, exclusions: [] };
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("q", "id", "name"), value), { maxLength: 4 }),
        (fields) => {
          const q: InspectedRequest = {
            method: "POST",
            path: "/search",
            headers: { host: "shop", "content-type": "application/x-www-form-urlencoded" },
            body: Buffer.from(fields.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&")),
          };
          const requestDetectors = builtInRequestDetectors;
          expect(createWaf({ detectors: builtInDetectors, requestDetectors }).inspect(q, policy)).toEqual(
            createWaf({ detectors: unfiltered, requestDetectors }).inspect(q, policy),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
