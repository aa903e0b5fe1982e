import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./index.ts";
import { aliasBomb } from "../../test/support/fuzz.ts";

const noFiles = async (): Promise<string> => {
  throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
};

// Fragments that exercise YAML structure, the schema's keys and the reference syntax.
const fragment = fc.constantFrom(
  "version: 1",
  "version",
  "server",
  "port",
  "routes",
  "upstream",
  "audit",
  "retention",
  "security: 30",
  "__proto__",
  ":",
  ": ",
  "- ",
  "  ",
  "    ",
  "\n",
  "\t",
  "#",
  "[",
  "]",
  "{",
  "}",
  ",",
  "'",
  '"',
  "|",
  ">",
  "&a ",
  "*a",
  "!!str ",
  "!!binary ",
  "? ",
  "---",
  "...",
  "${env:X}",
  "${file:f}",
  "$${",
  "${",
  "http://x",
  "7600",
  "-1",
  "0x1F",
  ".inf",
  "null",
  "~",
  "%YAML 1.2",
  "\u0000",
  "\uFEFF",
  "é",
);
const yamlish = fc.array(fragment, { maxLength: 60 }).map((parts) => parts.join(""));

/** Parse and classify: anything thrown other than a well-formed ConfigError fails the property. */
async function parsesOrConfigError(text: string): Promise<void> {
  const started = performance.now();
  try {
    await parseConfig(text, "fuzz.yaml", { X: "x" }, { readFile: noFiles });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    expect(error.issues.length).toBeGreaterThan(0);
    for (const issue of error.issues) {
      expect(issue.file).toBe("fuzz.yaml");
      expect(issue.line).toBeGreaterThanOrEqual(1);
      expect(issue.column).toBeGreaterThanOrEqual(1);
    }
  }
  expect(performance.now() - started).toBeLessThan(1000);
}

describe("parseConfig never fails with anything but ConfigError", () => {
  it("on arbitrary strings", async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 400, unit: "binary" }), parsesOrConfigError), {
      numRuns: 300,
    });
  });

  it("on YAML-ish text", async () => {
    await fc.assert(fc.asyncProperty(yamlish, parsesOrConfigError), { numRuns: 500 });
  });

  it("on deep nesting and alias bombs", async () => {
    await parsesOrConfigError(`${"[".repeat(5000)}${"]".repeat(5000)}`);
    const indented = Array.from({ length: 200 }, (_, depth) => `${" ".repeat(depth)}k:`);
    await parsesOrConfigError(`version: 1\n${indented.join("\n")}`);
    // Nine levels of ten aliases each: 10^9 nodes if expanded naively.
    await parsesOrConfigError(`version: 1\n${aliasBomb(9)}`);
  });
});
