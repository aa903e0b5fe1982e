// YAML files other than rampart.yaml (playbooks, ignore files, rule files) read against a zod
// schema, with every problem located at file:line:column and its key path.
import { type Document, isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./errors.ts";

export interface LocatedYaml {
  readonly doc: Document;
  readonly lines: LineCounter;
  /** An issue at the deepest node of `path` that exists (a missing key: its parent). */
  issueAt(path: readonly (string | number)[], message: string): ConfigIssue;
  /** An issue at a source offset. */
  issueAtOffset(offset: number | undefined, path: string, message: string): ConfigIssue;
  /** The 1-based line of the node at `path`, or of its deepest existing parent. */
  lineOf(path: readonly (string | number)[]): number;
}

/** `a.b[2].c` for a key path. */
export const keyPath = (path: readonly (string | number)[]): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");

/** Parses `text`; a syntax error throws ConfigError with its position. */
export function readYaml(text: string, file: string): LocatedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const issueAtOffset = (offset: number | undefined, path: string, message: string): ConfigIssue => {
    const { line, col } = lines.linePos(offset ?? 0);
    return { file, line: Math.max(line, 1), column: Math.max(col, 1), path, message };
  };
  const offsetOf = (path: readonly (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node)) return node.range?.[0];
    }
    return undefined;
  };
  if (doc.errors.length > 0)
    throw new ConfigError(doc.errors.map((e) => issueAtOffset(e.pos[0], "", e.message)));
  return {
    doc,
    lines,
    issueAtOffset,
    issueAt: (path, message) => issueAtOffset(offsetOf(path), keyPath(path), message),
    lineOf: (path) => lines.linePos(offsetOf(path) ?? 0).line,
  };
}

/** The zod issues of a failed parse, located in `yaml` under `prefix` and sorted by position. */
export function locatedIssues(
  yaml: LocatedYaml,
  error: z.ZodError,
  prefix: readonly (string | number)[] = [],
): ConfigIssue[] {
  return error.issues
    .map((issue) =>
      yaml.issueAt(
        [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== "symbol")],
        issue.message,
      ),
    )
    .toSorted((a, b) => a.line - b.line || a.column - b.column);
}

/** Parses `text` and checks it against `schema`; any problem throws one located ConfigError. */
export function parseYamlWith<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
): { data: T; yaml: LocatedYaml } {
  const yaml = readYaml(text, file);
  const parsed = schema.safeParse(yaml.doc.toJS());
  if (!parsed.success) throw new ConfigError(locatedIssues(yaml, parsed.error));
  return { data: parsed.data, yaml };
}
