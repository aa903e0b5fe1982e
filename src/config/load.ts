import { readFile as readFileFromDisk } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  parseDocument,
  type YAMLMap,
  type YAMLSeq,
} from "yaml";
import { z } from "zod";
import { RampartError } from "../platform/errors.ts";
import { ConfigError, type ConfigIssue } from "./errors.ts";
import { parseTemplate, trimTrailingNewline } from "./references.ts";
import { type RampartConfig, rampartConfigSchema } from "./schema.ts";
import { textPositions } from "./yaml.ts";

/** Environment used to resolve `${env:NAME}`; `process.env` fits. */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

/** Reads a UTF-8 text file; injectable so tests need no disk. */
export type ReadTextFile = (path: string) => Promise<string>;

/**
 * The value map of a secret, for `${secret:…}` references: the server passes one over its open
 * store, CLI and gateway processes one over the API. Its errors must never carry a value.
 */
export type SecretResolver = (path: string) => Promise<Readonly<Record<string, string>>>;

export interface LoadConfigOptions {
  env?: ConfigEnv;
  /** Reads the config file and every `${file:…}` reference. */
  readFile?: ReadTextFile;
  /** Resolves `${secret:…}` references; without it a config that uses one is refused. */
  secrets?: SecretResolver;
  /**
   * Read only these key paths (`database`, `gateway.controlPlane`): everything else is left out
   * unread, as if absent, so its references are not resolved. For bootstrap configs.
   */
  only?: readonly string[];
}

export interface ParseConfigOptions {
  /** Reads `${file:…}` references (resolved against the config file's directory). */
  readFile?: ReadTextFile;
  /** Resolves `${secret:…}` references; without it a config that uses one is refused. */
  secrets?: SecretResolver;
  /** Read only these key paths; see {@link LoadConfigOptions.only}. */
  only?: readonly string[];
}

const readUtf8: ReadTextFile = (path) => readFileFromDisk(path, "utf8");

// Bounds that keep a hostile or broken file from costing more than a small one: nesting depth
// (recursion) and alias expansions (the "billion laughs" pattern).
const MAX_DEPTH = 64;
const MAX_ALIAS_EXPANSIONS = 1000;

/** Read, resolve and validate a `rampart.yaml`; throws ConfigError listing every problem. */
export async function loadConfig(path: string, options: LoadConfigOptions = {}): Promise<RampartConfig> {
  const readFile = options.readFile ?? readUtf8;
  let text: string;
  try {
    text = await readFile(path);
  } catch (error) {
    throw new ConfigError([
      { file: path, line: 1, column: 1, path: "", message: `cannot read config file (${errorCode(error)})` },
    ]);
  }
  return parseConfig(text, path, options.env ?? process.env, {
    readFile,
    ...(options.secrets ? { secrets: options.secrets } : {}),
    ...(options.only ? { only: options.only } : {}),
  });
}

/** What {@link loadConfigStaged} found: the whole config, or its bootstrap part and what waits. */
export type StagedConfig =
  | { complete: true; config: RampartConfig }
  | {
      complete: false;
      /** The bootstrap paths alone, validated (everything else at its defaults). */
      bootstrap: RampartConfig;
      /** The `${secret:…}` references outside them, located, to resolve once secrets can be read. */
      references: readonly ConfigIssue[];
    };

export interface StagedLoadOptions {
  env?: ConfigEnv;
  readFile?: ReadTextFile;
  /** Key paths a process needs before it can read secrets (`database`, `gateway.controlPlane`). */
  bootstrap: readonly string[];
  /** Why a reference cannot sit in them, ending "<path> cannot use ${secret:…}: ". */
  because: string;
}

/**
 * Load a config whose `${secret:…}` references can only be resolved once part of it is running
 * (the server's store, the gateway's control plane). Without references: the whole config. With
 * them: the bootstrap part, for the caller to start from and then `loadConfig` again with a
 * resolver. A reference inside a bootstrap path, or any other problem, is a ConfigError.
 */
export async function loadConfigStaged(path: string, options: StagedLoadOptions): Promise<StagedConfig> {
  const plain = {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.readFile === undefined ? {} : { readFile: options.readFile }),
  };
  let error: ConfigError;
  try {
    return { complete: true, config: await loadConfig(path, plain) };
  } catch (caught) {
    if (!(caught instanceof ConfigError)) throw caught;
    error = caught;
  }
  const references = error.issues.filter((issue) => issue.code === "secret-needs-store");
  if (references.length === 0) throw error;
  const problems: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code !== "secret-needs-store") {
      problems.push(issue);
      continue;
    }
    const inside = options.bootstrap.find((section) => isWithin(issue.path, section));
    if (inside !== undefined)
      problems.push({
        ...issue,
        code: "secret-unresolved",
        message: `${inside} cannot use \${secret:…}: ${options.because}`,
      });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const bootstrap = await loadConfig(path, { ...plain, only: options.bootstrap });
  return { complete: false, bootstrap, references };
}

/** Parse config text; `file` names it in errors and anchors relative `${file:…}` paths. */
export async function parseConfig(
  text: string,
  file: string,
  env: ConfigEnv = process.env,
  options: ParseConfigOptions = {},
): Promise<RampartConfig> {
  const positionOf = textPositions(text);
  const at = (offset: number | undefined, path: string, message: string): ConfigIssue => ({
    file,
    ...positionOf(offset),
    path,
    message,
  });

  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { prettyErrors: false });
  } catch (error) {
    // The parser recurses; absurd nesting can exhaust the stack before it reports anything.
    throw new ConfigError([
      at(0, "", `cannot parse YAML (${error instanceof Error ? error.name : "error"})`),
    ]);
  }
  if (doc.errors.length > 0) {
    // One mistake can make the YAML parser report several errors at the same place: keep the first.
    const seen = new Set<number>();
    const first = doc.errors.filter((error) => !seen.has(error.pos[0]) && seen.add(error.pos[0]));
    throw new ConfigError(first.map((error) => at(error.pos[0], "", error.message)));
  }

  const state: ConversionState = {
    only: options.only,
    doc,
    env,
    readFile: options.readFile ?? readUtf8,
    secrets: options.secrets,
    baseDir: dirname(file),
    files: new Map(),
    secretMaps: new Map(),
    locations: new Map(),
    issues: [],
    failedPaths: [],
    aliasBudget: MAX_ALIAS_EXPANSIONS,
    ancestors: new Set(),
    at,
  };
  const value = await toValue(doc.contents, [], state, 0);
  if (value === null && state.issues.length === 0) {
    throw new ConfigError([at(0, "", "no settings found; the file needs at least `version: 1`")]);
  }

  const result = rampartConfigSchema.safeParse(value, { error: messageFor });
  const issues = state.issues;
  if (!result.success) {
    for (const issue of result.error.issues) issues.push(...locate(issue, state));
  }
  if (issues.length > 0) {
    throw new ConfigError(issues.toSorted((a, b) => a.line - b.line || a.column - b.column));
  }
  if (!result.success) throw new Error("unreachable: failed parse without issues");
  return result.data;
}

type Segment = string | number;

interface Location {
  /** Offset of the value node (or of the key, when the value is empty). */
  value: number | undefined;
  /** Offset of the key, for mapping entries. */
  key?: number | undefined;
}

interface ConversionState {
  only: readonly string[] | undefined;
  doc: Document.Parsed;
  env: ConfigEnv;
  readFile: ReadTextFile;
  secrets: SecretResolver | undefined;
  /** One resolution per referenced secret, however often it is referenced. */
  secretMaps: Map<
    string,
    Promise<{ ok: true; data: Readonly<Record<string, string>> } | { ok: false; reason: string }>
  >;
  baseDir: string;
  /** One read per referenced file, however often it is referenced. */
  files: Map<string, Promise<{ ok: true; text: string } | { ok: false; code: string }>>;
  locations: Map<string, Location>;
  issues: ConfigIssue[];
  /** Paths whose references failed: validation issues under them would only repeat the problem. */
  failedPaths: string[];
  aliasBudget: number;
  /** Collections being converted, to refuse an alias that points back into itself. */
  ancestors: Set<unknown>;
  at: (offset: number | undefined, path: string, message: string) => ConfigIssue;
}

/** Convert the YAML tree to plain data, resolving references and recording where each path sits. */
async function toValue(
  node: unknown,
  path: Segment[],
  state: ConversionState,
  depth: number,
): Promise<unknown> {
  if (node === null || node === undefined) return null;
  const key = formatPath(path);
  const offset = rangeStart(node);
  if (!state.locations.has(key)) state.locations.set(key, { value: offset });
  if (depth > MAX_DEPTH) {
    state.issues.push(state.at(offset, key, `nested deeper than ${MAX_DEPTH} levels`));
    state.failedPaths.push(key);
    return null;
  }

  if (isAlias(node)) {
    state.aliasBudget -= 1;
    if (state.aliasBudget < 0) {
      if (state.aliasBudget === -1) {
        state.issues.push(state.at(offset, key, `more than ${MAX_ALIAS_EXPANSIONS} alias expansions`));
      }
      state.failedPaths.push(key);
      return null;
    }
    const target = node.resolve(state.doc);
    if (state.ancestors.has(target)) {
      state.issues.push(state.at(offset, key, `alias *${node.source} refers to a node that contains it`));
      state.failedPaths.push(key);
      return null;
    }
    return toValue(target, path, state, depth + 1);
  }

  if (isScalar(node)) {
    return typeof node.value === "string" ? resolveReferences(node.value, key, offset, state) : node.value;
  }

  if (isMap(node) || isSeq(node)) {
    state.ancestors.add(node);
    try {
      return isMap(node)
        ? await mapToValue(node, path, state, depth)
        : await seqToValue(node, path, state, depth);
    } finally {
      state.ancestors.delete(node);
    }
  }
  return null;
}

async function mapToValue(node: YAMLMap, path: Segment[], state: ConversionState, depth: number) {
  const key = formatPath(path);
  const object: Record<string, unknown> = {};
  for (const pair of node.items) {
    const keyNode = pair.key;
    const keyOffset = rangeStart(keyNode);
    if (keyNode !== null && !isScalar(keyNode)) {
      state.issues.push(state.at(keyOffset, key, "mapping keys must be plain strings"));
      state.failedPaths.push(key);
      continue;
    }
    const name = keyNode === null || keyNode.value === null ? "" : String(keyNode.value);
    const childPath = [...path, name];
    if (state.only && !isOnPath(formatPath(childPath), state.only)) continue;
    const valueOffset = pair.value === null ? keyOffset : rangeStart(pair.value);
    state.locations.set(formatPath(childPath), { value: valueOffset ?? keyOffset, key: keyOffset });
    const child = await toValue(pair.value, childPath, state, depth + 1);
    // defineProperty: a `__proto__` key becomes an (unknown) key, never the object's prototype.
    Object.defineProperty(object, name, {
      value: child,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}

async function seqToValue(node: YAMLSeq, path: Segment[], state: ConversionState, depth: number) {
  const list: unknown[] = [];
  for (const [index, item] of node.items.entries()) {
    list.push(await toValue(item, [...path, index], state, depth + 1));
  }
  return list;
}

async function resolveReferences(
  source: string,
  path: string,
  offset: number | undefined,
  state: ConversionState,
): Promise<string> {
  if (!source.includes("$")) return source;
  const template = parseTemplate(source);
  if (!template.ok) {
    state.issues.push(state.at(offset, path, template.message));
    state.failedPaths.push(path);
    return source;
  }
  let resolved = "";
  let failed = false;
  // Messages name the reference, never its value: resolved values are secrets.
  for (const part of template.parts) {
    if (part.kind === "text") {
      resolved += part.text;
    } else if (part.kind === "env") {
      const value = Object.hasOwn(state.env, part.name) ? state.env[part.name] : undefined;
      if (typeof value === "string") {
        resolved += value;
      } else {
        failed = true;
        state.issues.push(state.at(offset, path, `environment variable ${part.name} is not set`));
      }
    } else if (part.kind === "secret") {
      const result = await resolveSecret(part, state);
      if (result.ok) {
        resolved += result.value;
      } else {
        failed = true;
        state.issues.push({ ...state.at(offset, path, result.message), code: result.code });
      }
    } else {
      const result = await readReferencedFile(resolve(state.baseDir, part.path), state);
      if (result.ok) {
        resolved += result.text;
      } else {
        failed = true;
        state.issues.push(state.at(offset, path, `cannot read file ${part.path} (${result.code})`));
      }
    }
  }
  if (failed) {
    state.failedPaths.push(path);
    return source;
  }
  return resolved;
}

/** One key of a referenced secret; messages name the reference and key names, never a value. */
async function resolveSecret(
  part: { path: string; key?: string },
  state: ConversionState,
): Promise<
  { ok: true; value: string } | { ok: false; message: string; code: NonNullable<ConfigIssue["code"]> }
> {
  const code = "secret-unresolved";
  const reference = `\${secret:${part.path}${part.key !== undefined ? `#${part.key}` : ""}}`;
  const resolver = state.secrets;
  if (!resolver) {
    return {
      ok: false,
      code: "secret-needs-store",
      message: `${reference} needs the secrets store, and this command loads the config without it (run it where the server can resolve secrets, or use \${env:…})`,
    };
  }
  let pending = state.secretMaps.get(part.path);
  if (pending === undefined) {
    pending = resolver(part.path).then(
      (data) => ({ ok: true as const, data }),
      (error: unknown) => ({ ok: false as const, reason: resolverFailure(error) }),
    );
    state.secretMaps.set(part.path, pending);
  }
  const result = await pending;
  if (!result.ok) return { ok: false, code, message: `cannot resolve ${reference}: ${result.reason}` };
  const keys = Object.keys(result.data);
  if (part.key === undefined) {
    if (keys.length === 1) return { ok: true, value: result.data[keys[0] as string] as string };
    return {
      ok: false,
      code,
      message: `${reference} holds ${keys.length} keys (${keys.slice(0, 10).join(", ")}): name one as \${secret:${part.path}#KEY}`,
    };
  }
  if (!Object.hasOwn(result.data, part.key)) {
    return {
      ok: false,
      code,
      message: `${reference}: the secret has no key ${part.key} (it has ${keys.slice(0, 10).join(", ")})`,
    };
  }
  return { ok: true, value: result.data[part.key] as string };
}

// The store's errors say what failed (not found, forbidden, sealed) and never carry values; anything
// else is reduced to its name, in case a resolver's error quotes what it was given.
function resolverFailure(error: unknown): string {
  if (error instanceof RampartError) return error.message;
  return error instanceof Error ? error.name : "error";
}

function readReferencedFile(absolutePath: string, state: ConversionState) {
  let pending = state.files.get(absolutePath);
  if (pending === undefined) {
    pending = state.readFile(absolutePath).then(
      (text) => ({ ok: true as const, text: trimTrailingNewline(text) }),
      (error: unknown) => ({ ok: false as const, code: errorCode(error) }),
    );
    state.files.set(absolutePath, pending);
  }
  return pending;
}

/** Turn one zod issue into located config issues (one per unknown key). */
function locate(issue: z.core.$ZodIssue, state: ConversionState): ConfigIssue[] {
  const segments = issue.path.map((segment) => (typeof segment === "symbol" ? String(segment) : segment));
  const path = formatPath(segments);
  if (state.failedPaths.some((failed) => isWithin(path, failed))) return [];

  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(segments);
    const hint = known.length > 0 ? ` (expected one of: ${known.join(", ")})` : "";
    return issue.keys.map((name) => {
      const keyPath = formatPath([...segments, name]);
      const location = state.locations.get(keyPath);
      return state.at(location?.key ?? location?.value, keyPath, `unknown key${hint}`);
    });
  }

  const location = state.locations.get(path);
  if (location !== undefined) return [state.at(location.value, path, issue.message)];
  // A missing key: point at the nearest mapping that exists, which is where it belongs.
  for (let length = segments.length - 1; length >= 0; length--) {
    const parent = state.locations.get(formatPath(segments.slice(0, length)));
    if (parent !== undefined) return [state.at(parent.value, path, issue.message)];
  }
  return [state.at(0, path, issue.message)];
}

/** `path` lies within one of `only`, or is an ancestor of one (a mapping on the way to it). */
function isOnPath(path: string, only: readonly string[]): boolean {
  return only.some((kept) => isWithin(path, kept) || isWithin(kept, path));
}

function isWithin(path: string, ancestor: string): boolean {
  if (ancestor === "") return true;
  if (!path.startsWith(ancestor)) return false;
  const next = path.charAt(ancestor.length);
  return next === "" || next === "." || next === "[";
}

/** Messages in the file's vocabulary (mapping, list) that never quote the offending value. */
const messageFor: z.core.$ZodErrorMap = (issue) => {
  if ((issue.code === "invalid_type" || issue.code === "invalid_value") && issue.input === undefined) {
    return "required";
  }
  switch (issue.code) {
    case "invalid_type":
      return `expected ${yamlKind(issue.expected)}, got ${describeKind(issue.input)}`;
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${JSON.stringify(issue.values[0])}`
        : `expected one of: ${issue.values.map((value) => JSON.stringify(value)).join(", ")}`;
    case "too_small":
      if (issue.origin === "number")
        return `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}`;
      if (issue.origin === "string") return `must be at least ${issue.minimum} characters`;
      return undefined;
    case "too_big":
      if (issue.origin === "number")
        return `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`;
      if (issue.origin === "string") return `must be at most ${issue.maximum} characters`;
      return undefined;
    default:
      return undefined;
  }
};

function yamlKind(expected: string): string {
  if (expected === "object") return "a mapping";
  if (expected === "array") return "a list";
  if (expected === "int") return "an integer";
  return `a ${expected}`;
}

function describeKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

/** The keys the schema allows at `path`, to suggest alongside an unknown key. */
function knownKeys(path: readonly Segment[]): string[] {
  let schema: unknown = rampartConfigSchema;
  const unwrap = () => {
    for (;;) {
      if (
        schema instanceof z.ZodDefault ||
        schema instanceof z.ZodPrefault ||
        schema instanceof z.ZodOptional
      ) {
        schema = schema.unwrap();
      } else if (schema instanceof z.ZodPipe) {
        schema = schema.out;
      } else {
        return;
      }
    }
  };
  for (const segment of path) {
    unwrap();
    if (schema instanceof z.ZodArray && typeof segment === "number") schema = schema.element;
    else if (schema instanceof z.ZodObject && typeof segment === "string") schema = schema.shape[segment];
    else return [];
  }
  unwrap();
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

/** `routes[2].upstream`; keys that are not identifiers are quoted: `server["a.b"]`. */
function formatPath(path: readonly Segment[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) text += text === "" ? segment : `.${segment}`;
    else text += `[${JSON.stringify(segment)}]`;
  }
  return text;
}

function rangeStart(node: unknown): number | undefined {
  if (node !== null && typeof node === "object" && "range" in node && Array.isArray(node.range)) {
    const start: unknown = node.range[0];
    return typeof start === "number" ? start : undefined;
  }
  return undefined;
}

function errorCode(error: unknown): string {
  if (error !== null && typeof error === "object" && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return error instanceof Error ? error.name : "error";
}
