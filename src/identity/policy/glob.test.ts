// The segment matcher against the obvious regex translation, on random globs and paths small
// enough for the regex to be safe: they must agree on every pair.
import fc from "fast-check";
import { expect, test } from "vitest";
import { compileGlob } from "./glob.ts";

function reference(glob: string): RegExp {
  const parts = glob.split("/").map((s) =>
    s === "**"
      ? "\u0000"
      : s
          .split("*")
          .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
          .join("[^/]*"),
  );
  // `/**` absorbs its slash: zero or more whole segments.
  const source = parts
    .join("/")
    .replaceAll("/\u0000", "(?:/[^/]*)*")
    .replaceAll("\u0000/", "(?:[^/]*/)*")
    .replaceAll("\u0000", ".*");
  return new RegExp(`^${source}$`);
}

const segment = fc.constantFrom("a", "b", "ab", "", "x.y");
const globSegment = fc.constantFrom("a", "b", "*", "**", "a*", "*b", "a*b", "*a*", "");

test("agrees with a regex translation on random globs and paths", () => {
  fc.assert(
    fc.property(
      fc.array(globSegment, { minLength: 1, maxLength: 5 }),
      fc.array(segment, { minLength: 1, maxLength: 7 }),
      (g, p) => {
        const glob = `/${g.join("/")}`;
        const path = `/${p.join("/")}`;
        expect(compileGlob(glob, "/")(path.split("/")), `${glob} on ${path}`).toBe(
          reference(glob).test(path),
        );
      },
    ),
    { numRuns: 3000 },
  );
});
