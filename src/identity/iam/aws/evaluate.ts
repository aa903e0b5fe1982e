// AWS identity-policy evaluation for one request, after the IAM User Guide ("Policy evaluation
// logic", "IAM JSON policy elements": Action, Resource, Condition, condition operators, policy
// variables). Explicit Deny wins, else any matching Allow allows, else the request is implicitly
// denied. What this evaluator cannot decide (an operator it does not know, a policy variable the
// context does not hold, a value it cannot parse) is "unknown", and unknown errs towards denied:
// an Allow statement does not match, a Deny statement does. The minimiser then reports the call
// as not allowed, which it treats as a bug to surface, never as a silent pass.
import ipaddr from "ipaddr.js";
import { globMatch, statements, type NormalStatement, type PolicyDocument } from "./policy.ts";

/** A request context value: one string, or a list for multivalued keys (aws:TagKeys). */
export type ContextValue = string | readonly string[];

/** One request: the action, the resource ARN ("*" or undefined when it names none) and context keys. */
export interface EvaluationRequest {
  action: string;
  resource?: string;
  /** Condition keys, matched case-insensitively by name. */
  context?: Readonly<Record<string, ContextValue>>;
}

/** A named policy to evaluate. */
export interface EvaluatedPolicy {
  name: string;
  document: PolicyDocument;
}

/** How a set of policies decided, and which statement decided it. */
export interface EvaluationResult {
  decision: "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";
  /** The deciding statement: the first matching Deny, or the first matching Allow. */
  statement?: { policy: string; index: number; sid?: string };
}

/** Kleene truth: true, false, or cannot tell. */
type Tri = boolean | undefined;

const or = (xs: Iterable<Tri>): Tri => {
  let unknown = false;
  for (const x of xs) {
    if (x === true) return true;
    if (x === undefined) unknown = true;
  }
  return unknown ? undefined : false;
};
const and = (xs: Iterable<Tri>): Tri => {
  let unknown = false;
  for (const x of xs) {
    if (x === false) return false;
    if (x === undefined) unknown = true;
  }
  return unknown ? undefined : true;
};
const not = (x: Tri): Tri => (x === undefined ? undefined : !x);

/** Context lookup with case-insensitive key names. */
interface Context {
  get(key: string): ContextValue | undefined;
}

function contextOf(c: Readonly<Record<string, ContextValue>> | undefined): Context {
  const m = new Map<string, ContextValue>();
  for (const [k, v] of Object.entries(c ?? {})) m.set(k.toLowerCase(), v);
  return { get: (k) => m.get(k.toLowerCase()) };
}

/** A policy string with its variables resolved: literal text and the policy's own wildcards. */
type Piece = { text: string } | { wild: "*" | "?" };

/**
 * Resolves `${key}` / `${key, 'default'}` / `${*}` `${?}` `${$}` from the context (policy version
 * 2012-10-17 only; older documents hold `${` literally). Undefined when a variable has no
 * single value in the context: the caller treats the comparison as unknown.
 */
function resolve(value: string, ctx: Context, variables: boolean): Piece[] | undefined {
  const out: Piece[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value[i] as string;
    if (variables && c === "$" && value[i + 1] === "{") {
      const end = value.indexOf("}", i + 2);
      if (end < 0) return undefined;
      const inner = value.slice(i + 2, end).trim();
      i = end + 1;
      if (inner === "*" || inner === "?" || inner === "$") {
        out.push({ text: inner });
        continue;
      }
      const m = /^([^,]+?)\s*(?:,\s*'([^']*)')?$/.exec(inner);
      if (!m) return undefined;
      const v = ctx.get(m[1] as string);
      if (typeof v === "string") out.push({ text: v });
      else if (v === undefined && m[2] !== undefined) out.push({ text: m[2] });
      else return undefined;
      continue;
    }
    if (c === "*" || c === "?") out.push({ wild: c });
    else out.push({ text: c });
    i++;
  }
  return out;
}

/** The resolved value as plain text: the policy's `*` and `?` stand for themselves. */
const plain = (pieces: Piece[]) => pieces.map((p) => ("text" in p ? p.text : p.wild)).join("");

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** `*` any run, `?` one character; variables' values are literal. */
function likeRegExp(pieces: Piece[], ignoreCase = false): RegExp {
  const body = pieces.map((p) => ("text" in p ? escapeRe(p.text) : p.wild === "*" ? ".*" : ".")).join("");
  return new RegExp(`^${body}$`, ignoreCase ? "is" : "s");
}

/**
 * ARN matching (Resource, NotResource, Arn* conditions): case-sensitive; in the first five
 * segments (arn:partition:service:region:account) a wildcard stays inside its segment unless a
 * `*` ends the segment, which may then run across colons; in the resource part anything goes.
 */
function arnRegExp(pieces: Piece[]): RegExp {
  let body = "";
  let colons = 0;
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i] as Piece;
    if ("text" in p) {
      for (const ch of p.text) if (ch === ":") colons++;
      body += escapeRe(p.text);
      continue;
    }
    if (colons >= 5) body += p.wild === "*" ? ".*" : ".";
    else if (p.wild === "?") body += "[^:]";
    else {
      const next = pieces[i + 1];
      const endsSegment = next === undefined || ("text" in next && next.text.startsWith(":"));
      body += endsSegment ? ".*" : "[^:]*";
    }
  }
  return new RegExp(`^${body}$`, "s");
}

function arnMatch(pattern: string, arn: string, ctx: Context, variables: boolean): Tri {
  if (pattern === "*") return true;
  const pieces = resolve(pattern, ctx, variables);
  if (!pieces) return undefined;
  return arnRegExp(pieces).test(arn);
}

// ---- condition operators -------------------------------------------------------------------

/** Compares one request value with one policy value; undefined when it cannot tell. */
type Compare = (request: string, policy: string, ctx: Context, variables: boolean) => Tri;

interface Operator {
  compare: Compare;
  negated: boolean;
}

const withPieces =
  (f: (request: string, pieces: Piece[]) => boolean): Compare =>
  (request, policy, ctx, variables) => {
    const pieces = resolve(policy, ctx, variables);
    return pieces ? f(request, pieces) : undefined;
  };

const stringEquals = withPieces((r, p) => r === plain(p));
const stringEqualsIgnoreCase = withPieces((r, p) => r.toLowerCase() === plain(p).toLowerCase());
const stringLike = withPieces((r, p) => likeRegExp(p).test(r));
const arnLike: Compare = (r, p, ctx, variables) =>
  r.startsWith("arn:") || p === "*" ? arnMatch(p, r, ctx, variables) : false;

const numeric =
  (f: (a: number, b: number) => boolean): Compare =>
  (r, p) => {
    const a = r.trim() === "" ? NaN : Number(r);
    const b = p.trim() === "" ? NaN : Number(p);
    return Number.isNaN(a) || Number.isNaN(b) ? undefined : f(a, b);
  };

/** ISO 8601 or epoch seconds, as AWS accepts both. */
const dateMs = (s: string) => (/^\d+$/.test(s.trim()) ? Number(s) * 1000 : Date.parse(s));
const date =
  (f: (a: number, b: number) => boolean): Compare =>
  (r, p) => {
    const a = dateMs(r);
    const b = dateMs(p);
    return Number.isNaN(a) || Number.isNaN(b) ? undefined : f(a, b);
  };

const bool: Compare = (r, p) => r.toLowerCase() === p.toLowerCase();

const ipAddress: Compare = (r, p) => {
  if (!ipaddr.isValid(r)) return undefined;
  let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    range = p.includes("/")
      ? ipaddr.parseCIDR(p)
      : (() => {
          const a = ipaddr.parse(p);
          return [a, a.kind() === "ipv4" ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
        })();
  } catch {
    return undefined;
  }
  const addr = ipaddr.process(r);
  const [net, bits] = range;
  const n =
    net.kind() === "ipv6" && (net as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
      ? ([(net as ipaddr.IPv6).toIPv4Address(), bits - 96] as const)
      : ([net, bits] as const);
  if (addr.kind() !== n[0].kind()) return false;
  return addr.match(n[0], n[1]);
};

const eq = (a: number, b: number) => a === b;
const ne = (a: number, b: number) => a !== b;
const lt = (a: number, b: number) => a < b;
const le = (a: number, b: number) => a <= b;
const gt = (a: number, b: number) => a > b;
const ge = (a: number, b: number) => a >= b;

/** The operators this evaluator knows, by lower-cased name. */
const OPERATORS = new Map<string, Operator>(
  (
    [
      ["StringEquals", stringEquals, false],
      ["StringNotEquals", stringEquals, true],
      ["StringEqualsIgnoreCase", stringEqualsIgnoreCase, false],
      ["StringNotEqualsIgnoreCase", stringEqualsIgnoreCase, true],
      ["StringLike", stringLike, false],
      ["StringNotLike", stringLike, true],
      ["ArnEquals", arnLike, false],
      ["ArnLike", arnLike, false],
      ["ArnNotEquals", arnLike, true],
      ["ArnNotLike", arnLike, true],
      ["NumericEquals", numeric(eq), false],
      ["NumericNotEquals", numeric(eq), true],
      ["NumericLessThan", numeric(lt), false],
      ["NumericLessThanEquals", numeric(le), false],
      ["NumericGreaterThan", numeric(gt), false],
      ["NumericGreaterThanEquals", numeric(ge), false],
      ["DateEquals", date(eq), false],
      ["DateNotEquals", date(ne), false],
      ["DateLessThan", date(lt), false],
      ["DateLessThanEquals", date(le), false],
      ["DateGreaterThan", date(gt), false],
      ["DateGreaterThanEquals", date(ge), false],
      ["Bool", bool, false],
      ["IpAddress", ipAddress, false],
      ["NotIpAddress", ipAddress, true],
    ] as const
  ).map(([name, compare, negated]) => [name.toLowerCase(), { compare, negated }]),
);

/** The condition operators evaluated; any other makes its statement fail safe. */
export const supportedOperators: readonly string[] = [...[...OPERATORS.keys()], "null"].sort();

function policyValues(v: unknown): string[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  for (const x of list) {
    if (typeof x === "string") out.push(x);
    else if (typeof x === "number" || typeof x === "boolean") out.push(String(x));
    else return undefined;
  }
  return out;
}

/** One `Operator: { key: values }` entry for one key. */
function conditionKey(
  operatorName: string,
  key: string,
  rawValues: unknown,
  ctx: Context,
  variables: boolean,
): Tri {
  const values = policyValues(rawValues);
  if (!values || values.length === 0) return undefined;
  let name = operatorName.toLowerCase();
  let set: "any" | "all" | undefined;
  if (name.startsWith("foranyvalue:")) {
    set = "any";
    name = name.slice("foranyvalue:".length);
  } else if (name.startsWith("forallvalues:")) {
    set = "all";
    name = name.slice("forallvalues:".length);
  }
  const request = ctx.get(key);
  const present = request !== undefined && !(Array.isArray(request) && request.length === 0);

  if (name === "null") {
    if (set) return undefined;
    // "true": the key must be absent; "false": present.
    return or(
      values.map((v) =>
        v.toLowerCase() === "true" ? !present : v.toLowerCase() === "false" ? present : undefined,
      ),
    );
  }
  const ifExists = name.endsWith("ifexists");
  if (ifExists) name = name.slice(0, -"ifexists".length);
  const op = OPERATORS.get(name);
  if (!op) return undefined;

  if (!present) {
    if (set === "all") return true;
    if (ifExists) return true;
    if (set === "any") return false;
    return op.negated;
  }
  const requestValues: readonly string[] =
    typeof request === "string" ? [request] : (request as readonly string[]);
  // m(r): r matches some policy value (values are OR-ed; negated operators NOR them).
  const m = (r: string) => or(values.map((p) => op.compare(r, p, ctx, variables)));
  const f = (r: string) => (op.negated ? not(m(r)) : m(r));
  if (set === "all") return and(requestValues.map(f));
  if (set === "any") return or(requestValues.map(f));
  return op.negated ? not(or(requestValues.map(m))) : or(requestValues.map(m));
}

/** A Condition block: operators AND-ed, keys within an operator AND-ed. */
function conditionHolds(
  condition: Record<string, Record<string, unknown>>,
  ctx: Context,
  variables: boolean,
): Tri {
  const results: Tri[] = [];
  for (const [operator, keys] of Object.entries(condition)) {
    if (typeof keys !== "object" || keys === null) return undefined;
    for (const [key, values] of Object.entries(keys))
      results.push(conditionKey(operator, key, values, ctx, variables));
  }
  return and(results);
}

function resourceMatches(s: NormalStatement, resource: string, ctx: Context, variables: boolean): Tri {
  if (s.resource) return or(s.resource.map((p) => arnMatch(p, resource, ctx, variables)));
  if (s.notResource) return not(or(s.notResource.map((p) => arnMatch(p, resource, ctx, variables))));
  return undefined;
}

function actionMatches(s: NormalStatement, action: string): boolean {
  if (s.action) return s.action.some((p) => globMatch(p, action, true));
  if (s.notAction) return !s.notAction.some((p) => globMatch(p, action, true));
  return false;
}

/**
 * Whether one statement applies to a request. Unknown parts fail safe by effect: an Allow
 * statement that cannot be decided does not apply, a Deny statement does.
 */
export function statementApplies(
  s: NormalStatement,
  request: EvaluationRequest,
  o: { policyVariables?: boolean } = {},
): boolean {
  if (!actionMatches(s, request.action)) return false;
  const ctx = contextOf(request.context);
  const variables = o.policyVariables ?? true;
  const resource = request.resource ?? "*";
  const verdict = and([
    resourceMatches(s, resource, ctx, variables),
    s.condition ? conditionHolds(s.condition, ctx, variables) : true,
  ]);
  return verdict ?? s.effect === "Deny";
}

/** Evaluates a request against identity policies: explicit Deny, else any Allow, else implicit deny. */
export function evaluatePolicies(
  policies: readonly EvaluatedPolicy[],
  request: EvaluationRequest,
): EvaluationResult {
  let allow: EvaluationResult["statement"];
  for (const p of policies) {
    const list = statements(p.document);
    for (let i = 0; i < list.length; i++) {
      const s = list[i] as NormalStatement;
      if (s.effect === "Allow" && allow) continue;
      // Policy variables exist from policy language 2012-10-17; before, `${` is literal text.
      if (!statementApplies(s, request, { policyVariables: p.document.Version === "2012-10-17" })) continue;
      const at = { policy: p.name, index: i, ...(s.raw.Sid ? { sid: s.raw.Sid } : {}) };
      if (s.effect === "Deny") return { decision: "ExplicitlyDenied", statement: at };
      allow = at;
    }
  }
  return allow ? { decision: "Allowed", statement: allow } : { decision: "ImplicitlyDenied" };
}
