// Positions of YAML problems: every issue must name a line that exists and a column at most one
// past its end, including syntax errors the parser reports at the very end of the input.
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { readYaml, textPositions } from "./yaml.ts";

const syntaxIssues = (text: string): ConfigIssue[] => {
  try {
    readYaml(text, "f.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error("expected a syntax error");
};

describe("textPositions", () => {
  const at = textPositions("ab\ncd\r\n\nx");

  it("counts lines and columns from the text", () => {
    expect(at(0)).toEqual({ line: 1, column: 1 });
    expect(at(2)).toEqual({ line: 1, column: 3 }); // the newline itself: one past "ab"
    expect(at(3)).toEqual({ line: 2, column: 1 });
    expect(at(5)).toEqual({ line: 2, column: 3 }); // "\r" counts as a character of line 2
    expect(at(7)).toEqual({ line: 3, column: 1 });
    expect(at(8)).toEqual({ line: 4, column: 1 });
    expect(at(9)).toEqual({ line: 4, column: 2 });
  });

  it("clamps offsets outside the text", () => {
    expect(at(undefined)).toEqual({ line: 1, column: 1 });
    expect(at(-5)).toEqual({ line: 1, column: 1 });
    expect(at(Number.NaN)).toEqual({ line: 1, column: 1 });
    expect(at(1000)).toEqual({ line: 4, column: 2 });
    expect(textPositions("a\n")(99)).toEqual({ line: 2, column: 1 });
    expect(textPositions("")(3)).toEqual({ line: 1, column: 1 });
  });
});

describe("readYaml positions", () => {
  const positions = (text: string) => syntaxIssues(text).map((i) => `${i.line}:${i.column}`);

  it("places an error at the end of the input after the last newline", () => {
    // `[x: y['` is 7 characters; the unclosed sequence is reported at offset 8, past the newline.
    expect(positions("[x: y['\n")).toEqual(["1:6", "1:7", "2:1"]);
    expect(positions("a: 1\nb: 'open\nc: 2\n")).toEqual(["4:1"]);
  });

  it("places an error at the end of input without a final newline just past the last line", () => {
    expect(positions("a: 1\nb: [x")).toEqual(["2:6"]);
  });

  it("locates an error inside the text", () => {
    expect(syntaxIssues("a: 1\nb: c: d\n")).toEqual([
      expect.objectContaining({ file: "f.yaml", line: 2, column: 4, path: "" }),
    ]);
  });
});
