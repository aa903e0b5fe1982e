// YAML files other than rampart.yaml (playbooks, ignore files, rule files) read against a zod
// schema, with every problem located at file:line:column and its key path.
import {
  type Alias,
  type Document,
  isAlias,
  isCollection,
  isNode,
  type Node,
  parseDocument,
  visit,
} from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./errors.ts";

export interface LocatedYaml {
  readonly doc: Document;
  /** An issue at the deepest node of `path` that exists (a missing key: its parent). */
  issueAt(path: readonly (string | number)[], message: string): ConfigIssue;
  /** An issue at a source offset. */
  issueAtOffset(offset: number | undefined, path: string, message: string): ConfigIssue;
  /** The 1-based line of the node at `path`, or of its deepest existing parent. */
  lineOf(path: readonly (string | number)[]): number;
  /** The document as plain data; what keeps it from being data throws one located ConfigError. */
  data(): unknown;
}

/** A 1-based line and column (in UTF-16 code units, as `String#length` counts). */
export interface TextPosition {
  readonly line: number;
  readonly column: number;
}

/**
 * Maps offsets in `text` to line and column, counted from the text itself. The yaml library's
 * LineCounter is not used for this: it has not seen the last newline when an error lies at the end
 * of the input, and so places that error past the end of the line before. Offsets are clamped to
 * the text, so every position names a line that exists and a column at most one past its end.
 */
export function textPositions(text: string): (offset: number | undefined) => TextPosition {
  let lineStarts: number[] | undefined; // found on first use: a file without issues never needs them
  const findLineStarts = (): number[] => {
    const starts = [0];
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    return starts;
  };
  return (offset) => {
    const starts = (lineStarts ??= findLineStarts());
    const at = Math.min(Math.max(Math.trunc(offset ?? 0) || 0, 0), text.length);
    // The last line start at or before `at`, by binary search: files can be large, issues many.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: at - (starts[lo] as number) + 1 };
  };
}

/** `a.b[2].c` for a key path. */
export const keyPath = (path: readonly (string | number)[]): string =>
  path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");

/** More alias expansions than this in one document is refused: a few can expand into gigabytes. */
export const maxAliasCount = 100;

/** A reason a document is not plain data, at a source offset. */
export interface DataProblem {
  readonly offset: number | undefined;
  readonly message: string;
}

/** Whether `node` holds an alias; cached per anchor, as many aliases may name one big anchor. */
function holdsAlias(node: Node, seen: Map<Node, boolean>): boolean {
  let found = seen.get(node);
  if (found !== undefined) return found;
  found = false;
  visit(node, {
    Alias() {
      found = true;
      return visit.BREAK;
    },
  });
  seen.set(node, found);
  return found;
}

/**
 * The document as plain data, or why not, located: a collection used as a key, an alias with no
 * anchor before it, or more than `maxAliasCount` alias expansions (blamed on the first alias of an
 * anchor that itself holds aliases, where a "billion laughs" starts). The yaml library would throw
 * a bare ReferenceError on the last two, and its messages may quote the input; these do not.
 */
export function documentData(doc: Document): { value: unknown } | { problems: DataProblem[] } {
  const problems: DataProblem[] = [];
  const anchored = new Map<string, Node>();
  const seen = new Map<Node, boolean>();
  let nested: Alias | undefined;
  let first: Alias | undefined;
  visit(doc, {
    Pair(_key, pair) {
      if (isCollection(pair.key))
        problems.push({
          offset: pair.key.range?.[0],
          message: "a key must be a plain value, not a list or map",
        });
    },
    Node(_key, node) {
      if (isAlias(node)) {
        const target = anchored.get(node.source);
        if (!target)
          problems.push({
            offset: node.range?.[0],
            message: `alias *${node.source} has no anchor &${node.source} before it`,
          });
        else if (!nested && holdsAlias(target, seen)) nested = node;
        first ??= node;
      } else if (node.anchor) anchored.set(node.anchor, node);
    },
  });
  if (problems.length > 0) return { problems };
  try {
    return { value: doc.toJS({ maxAliasCount }) };
  } catch {
    // Every key is plain and every anchor resolves (checked above): toJS found too many aliases.
    const at = nested ?? first;
    return {
      problems: [
        {
          offset: at?.range?.[0] ?? doc.contents?.range?.[0],
          message: `aliases expand more than ${maxAliasCount} times (an alias bomb?)`,
        },
      ],
    };
  }
}

/** Parses `text`; a syntax error throws ConfigError with its position. */
export function readYaml(text: string, file: string): LocatedYaml {
  const doc = parseDocument(text, { prettyErrors: false });
  const positionOf = textPositions(text);
  const issueAtOffset = (offset: number | undefined, path: string, message: string): ConfigIssue => ({
    file,
    ...positionOf(offset),
    path,
    message,
  });
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
    issueAtOffset,
    issueAt: (path, message) => issueAtOffset(offsetOf(path), keyPath(path), message),
    lineOf: (path) => positionOf(offsetOf(path)).line,
    data: () => {
      const read = documentData(doc);
      if ("problems" in read)
        throw new ConfigError(read.problems.map((p) => issueAtOffset(p.offset, "", p.message)));
      return read.value;
    },
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
  const parsed = schema.safeParse(yaml.data());
  if (!parsed.success) throw new ConfigError(locatedIssues(yaml, parsed.error));
  return { data: parsed.data, yaml };
}
