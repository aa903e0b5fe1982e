// Fuzzing the config loader beyond load.property.test.ts: mutations of the shipped example (byte
// flips, truncations, duplicated and deleted spans, hostile insertions), hostile structured
// documents, and the `${…}` reference parser. The contract: a valid file loads; anything else throws
// a ConfigError whose every issue points inside the file; nothing else is thrown; each parse is fast.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConfigError, parseConfig } from "./index.ts";
import { parseTemplate } from "./references.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

// A whole config (YAML, references, schema) of a few KiB; the YAML parser runs ~100 KiB/s, so
// 64 KiB of nesting gets a bound of its own (linear growth passes, quadratic would not).
const BOUND_MS = 1000;
const LARGE_BOUND_MS = 8000;
const example = readFileSync(new URL("../../rampart.example.yaml", import.meta.url), "utf8");
const env = { RAMPART_INGEST_TOKEN: "t".repeat(48), X: "x" };

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled);
  await parseConfig(example, "rampart.yaml", env, { readFile: noFiles }); // warm the schema up
});
afterAll(() => {
  process.off("unhandledRejection", onUnhandled);
  expect(unhandled).toEqual([]);
});

async function noFiles(): Promise<string> {
  throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
}
/** `${file:…}` references read this: hostile contents too. */
const hostileFiles = async (path: string): Promise<string> =>
  path.endsWith("missing") ? noFiles() : `${"\0\ud800${env:X}".repeat(3)}\n`;

/** Parses `text`; it must load or throw a ConfigError whose issues lie within the text. */
async function loadsOrLocatedError(text: string, bound = BOUND_MS): Promise<"loaded" | "refused"> {
  const started = performance.now();
  const outcome = await classify(text);
  // Timed twice before failing: a GC pause or a busy CI machine is not what this looks for, and
  // a slow parse (backtracking, quadratic work) is slow both times.
  if (performance.now() - started > bound) {
    const again = performance.now();
    await classify(text);
    expect(performance.now() - again).toBeLessThan(bound);
  }
  return outcome;
}

async function classify(text: string): Promise<"loaded" | "refused"> {
  try {
    await parseConfig(text, "fuzz.yaml", env, { readFile: hostileFiles });
    return "loaded";
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const lines = text.split("\n");
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(issue.file).toBe("fuzz.yaml");
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.line).toBeLessThanOrEqual(lines.length);
      expect(issue.column).toBeGreaterThanOrEqual(1);
      expect(issue.column).toBeLessThanOrEqual((lines[issue.line - 1]?.length ?? 0) + 1);
      // Resolved values never reach an error message.
      expect(issue.message.includes(env.RAMPART_INGEST_TOKEN)).toBe(false);
    }
    return "refused";
  }
}

const insertion = fc.constantFrom(
  "\0",
  "\ud800",
  "\ufeff",
  "\u202e",
  "\u00c0\u00af", // an overlong `/`, as Latin-1
  "\t",
  "\r",
  "\n",
  ": ",
  "- ",
  "&a ",
  "*a",
  "!!binary ",
  "{",
  "[",
  "'",
  '"',
  "${",
  "${env:X}",
  "${env:NOPE}",
  "${file:missing}",
  "${file:present}",
  "${secret:/a/b/c#k}",
  "$${",
  "9".repeat(400),
  "1e999999",
  "-0",
  "0x7fffffffffffffff",
  ".nan",
  "__proto__: ",
  "constructor: ",
  "<<: *a",
);
type Edit = (s: string) => string;
const at = (s: string, n: number) => (s.length === 0 ? 0 : n % (s.length + 1));
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xff })).map(([n, c]): Edit => (s) => {
    const i = at(s, n);
    return s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1);
  }),
  fc.nat().map(
    (n): Edit =>
      (s) =>
        s.slice(0, at(s, n)),
  ),
  fc.tuple(fc.nat(), fc.nat({ max: 400 })).map(([n, len]): Edit => (s) => {
    const i = at(s, n);
    return s.slice(0, i) + s.slice(i + len);
  }),
  fc.tuple(fc.nat(), fc.nat({ max: 400 }), fc.nat()).map(([n, len, m]): Edit => (s) => {
    const i = at(s, n);
    const j = at(s, m);
    return s.slice(0, j) + s.slice(i, i + len) + s.slice(j);
  }),
  fc.tuple(fc.nat(), insertion).map(([n, text]): Edit => (s) => {
    const i = at(s, n);
    return s.slice(0, i) + text + s.slice(i);
  }),
);
const mutatedExample = fc
  .array(edit, { minLength: 1, maxLength: 5 })
  .map((edits) => edits.reduce((s, e) => e(s), example));

// Documents with the schema's keys and hostile values, written as YAML.
const hostileValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.string({ maxLength: 40 }),
    insertion,
    fc.constantFrom(7600, -1, 1e308, 2 ** 53 + 1, 0.5, true, null),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(
        fc.constantFrom("server", "port", "routes", "gateway", "ipRules", "allow", "waf", "__proto__"),
        fc.string({ maxLength: 8 }),
      ),
      tie("value"),
      { maxKeys: 4 },
    ),
  ),
})).value;
const structured = fc
  .dictionary(
    fc.constantFrom(
      "server",
      "database",
      "events",
      "audit",
      "gateway",
      "routes",
      "secrets",
      "environment",
      "__proto__",
    ),
    hostileValue,
    {
      maxKeys: 5,
    },
  )
  .map((doc) => stringify({ version: 1, ...doc }));

describe("parseConfig", () => {
  it("loads the shipped example (the base the mutations below start from)", async () => {
    expect(await loadsOrLocatedError(example)).toBe("loaded");
  });

  it("loads or refuses a mutated example with located issues", async () => {
    await fc.assert(
      fc.asyncProperty(mutatedExample, async (t) => void (await loadsOrLocatedError(t))),
      { numRuns: 300 },
    );
  });

  it("loads or refuses hostile structured documents with located issues", async () => {
    await fc.assert(
      fc.asyncProperty(structured, async (t) => void (await loadsOrLocatedError(t))),
      { numRuns: 400 },
    );
  });

  // The case the mutation property shrinks to: an unclosed flow sequence, whose error lies at the
  // end of the input, after the last newline (line 3, column 1), not past the end of line 2.
  it("places a syntax error at the end of the input on a line that exists", async () => {
    expect(await loadsOrLocatedError("version: 1\nserver: [x: y['\n")).toBe("refused");
  });

  it("refuses deep nesting and long lines quickly", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("[", "{a: ", "- ", "a:\n ", "&a [", '"\\', "'"),
        fc.integer({ min: 1, max: 16_000 }),
        async (unit, n) => {
          await loadsOrLocatedError(
            `version: 1\nserver: ${unit.repeat(n)}`.slice(0, 64 * 1024),
            LARGE_BOUND_MS,
          );
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("parseTemplate", () => {
  const templateish = fc.oneof(
    fc
      .array(
        fc.constantFrom(
          "$",
          "{",
          "}",
          "${",
          "$${",
          "env:",
          "file:",
          "secret:",
          "/a/b/c",
          "#k",
          "X",
          "_",
          "\0",
          " ",
        ),
        {
          maxLength: 30,
        },
      )
      .map((p) => p.join("")),
    fc.string({ maxLength: 200, unit: "binary" }),
    fc.integer({ min: 1, max: 20_000 }).map((n) => "${".repeat(n)),
  );

  it("never throws and is quick on anything", () => {
    fc.assert(
      fc.property(templateish, (s) => {
        const started = performance.now();
        const parsed = parseTemplate(s);
        expect(performance.now() - started).toBeLessThan(200);
        if (parsed.ok) expect(parsed.parts.length).toBeGreaterThan(0);
        else expect(parsed.message.length).toBeLessThan(500);
      }),
      { numRuns: 2000 },
    );
  });

  it("reads escaped text back as exactly that text", () => {
    fc.assert(
      fc.property(templateish, (text) => {
        // A replacer function: in a replacement string `$$` would itself mean one `$`.
        expect(parseTemplate(text.replaceAll("${", () => "$${"))).toEqual({
          ok: true,
          parts: [{ kind: "text", text }],
        });
      }),
      { numRuns: 2000 },
    );
  });
});
