// AWS identity policies: the document shape, how a statement matches an action and a resource,
// and reading policies from a policy file, a directory, or `aws iam
// get-account-authorization-details` output (users, groups, roles; managed policies resolved
// from the same file's Policies list).
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";

const stringOrList = z.union([z.string(), z.array(z.string())]);

const statementSchema = z
  .object({
    Sid: z.string().optional(),
    Effect: z.enum(["Allow", "Deny"]),
    Action: stringOrList.optional(),
    NotAction: stringOrList.optional(),
    Resource: stringOrList.optional(),
    NotResource: stringOrList.optional(),
    Condition: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  })
  .loose()
  .refine((s) => (s.Action === undefined) !== (s.NotAction === undefined), {
    message: "a statement needs exactly one of Action and NotAction",
  });

const documentSchema = z
  .object({
    Version: z.string().optional(),
    Id: z.string().optional(),
    Statement: z.union([statementSchema, z.array(statementSchema)]),
  })
  .loose();

/** One statement of an identity policy, as AWS writes it. */
export type PolicyStatement = z.infer<typeof statementSchema>;
/** An identity policy document. */
export type PolicyDocument = z.infer<typeof documentSchema>;

/** A policy with its name: inline (`PolicyName`) or managed (`arn`). */
export interface NamedPolicy {
  name: string;
  arn?: string;
  kind: "inline" | "managed";
  /** The group the principal inherits it from, if any. */
  group?: string;
  document: PolicyDocument;
}

/** The identity policies that apply to one principal. */
export interface PrincipalPolicies {
  principal: string;
  policies: NamedPolicy[];
  /** The permissions boundary, if any: preserved, and applied when replaying calls. */
  boundary?: NamedPolicy;
}

/** What was read: per-principal policies, and policies bound to no principal. */
export interface PolicySet {
  principals: Map<string, PrincipalPolicies>;
  /** Plain policy files: they apply to the principal named on the command line, or to every principal in the logs. */
  unbound: NamedPolicy[];
  notes: string[];
}

/** A statement with its lists normalised to arrays. */
export interface NormalStatement {
  effect: "Allow" | "Deny";
  action?: string[];
  notAction?: string[];
  resource?: string[];
  notResource?: string[];
  condition?: Record<string, Record<string, unknown>>;
  raw: PolicyStatement;
}

const list = (v: string | string[] | undefined) => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

/** The statements of a document, normalised. */
export function statements(doc: PolicyDocument): NormalStatement[] {
  const raw = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  return raw.map((s) => {
    const n: NormalStatement = { effect: s.Effect, raw: s };
    const a = list(s.Action);
    const na = list(s.NotAction);
    const r = list(s.Resource);
    const nr = list(s.NotResource);
    if (a) n.action = a;
    if (na) n.notAction = na;
    if (r) n.resource = r;
    if (nr) n.notResource = nr;
    if (s.Condition && Object.keys(s.Condition).length > 0) n.condition = s.Condition;
    return n;
  });
}

const globCache = new Map<string, RegExp>();
/** IAM's wildcard match: `*` any run of characters, `?` one; actions case-insensitive. */
export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
  if (pattern === "*") return true;
  if (!/[*?]/.test(pattern))
    return ignoreCase ? pattern.toLowerCase() === value.toLowerCase() : pattern === value;
  const key = `${ignoreCase ? "i" : "s"}${pattern}`;
  let re = globCache.get(key);
  if (!re) {
    const body = pattern
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("");
    re = new RegExp(`^${body}$`, ignoreCase ? "is" : "s");
    if (globCache.size > 10_000) globCache.clear();
    globCache.set(key, re);
  }
  return re.test(value);
}

/** Whether a statement's Action/NotAction covers `action`. */
export function statementMatchesAction(s: NormalStatement, action: string): boolean {
  if (s.action) return s.action.some((p) => globMatch(p, action, true));
  if (s.notAction) return !s.notAction.some((p) => globMatch(p, action, true));
  return false;
}

/** Whether a statement's Resource/NotResource covers a concrete resource ARN (policy variables never match). */
export function statementMatchesResource(s: NormalStatement, arn: string): boolean {
  if (s.resource) return s.resource.some((p) => !p.includes("${") && globMatch(p, arn));
  if (s.notResource) return !s.notResource.some((p) => globMatch(p, arn));
  return false;
}

/** Whether resource pattern `outer` surely covers pattern `inner` (conservative: false when unsure). */
export function patternCovers(outer: string, inner: string): boolean {
  if (outer === "*" || outer === inner) return true;
  if (outer.includes("${")) return false;
  if (!/[*?]/.test(inner)) return globMatch(outer, inner);
  // `prefix*` covers anything that starts with the prefix, wildcards in the rest included.
  const star = outer.indexOf("*");
  return star === outer.length - 1 && !outer.includes("?") && inner.startsWith(outer.slice(0, -1));
}

function decodeDocument(v: unknown, where: string): PolicyDocument {
  // The raw API returns documents URL-encoded; the CLI decodes them.
  const value = typeof v === "string" ? JSON.parse(decodeURIComponent(v)) : v;
  const parsed = documentSchema.safeParse(value);
  if (!parsed.success)
    throw new Invalid(`not an IAM policy document: ${parsed.error.issues[0]?.message ?? ""}`, where);
  return parsed.data;
}

/** Parses a policy document (an object or the JSON text of one). */
export function parsePolicyDocument(v: unknown, where = "policy"): PolicyDocument {
  return decodeDocument(v, where);
}

interface AuthDetails {
  UserDetailList?: {
    Arn: string;
    UserPolicyList?: { PolicyName: string; PolicyDocument: unknown }[];
    AttachedManagedPolicies?: { PolicyName: string; PolicyArn: string }[];
    GroupList?: string[];
    PermissionsBoundary?: { PermissionsBoundaryArn: string };
  }[];
  GroupDetailList?: {
    GroupName: string;
    Arn: string;
    GroupPolicyList?: { PolicyName: string; PolicyDocument: unknown }[];
    AttachedManagedPolicies?: { PolicyName: string; PolicyArn: string }[];
  }[];
  RoleDetailList?: {
    Arn: string;
    RolePolicyList?: { PolicyName: string; PolicyDocument: unknown }[];
    AttachedManagedPolicies?: { PolicyName: string; PolicyArn: string }[];
    PermissionsBoundary?: { PermissionsBoundaryArn: string };
  }[];
  Policies?: {
    PolicyName: string;
    Arn: string;
    DefaultVersionId?: string;
    PolicyVersionList?: { Document: unknown; VersionId?: string; IsDefaultVersion?: boolean }[];
  }[];
}

function readAuthorizationDetails(d: AuthDetails, where: string, set: PolicySet): void {
  const managed = new Map<string, NamedPolicy>();
  for (const p of d.Policies ?? []) {
    const v =
      p.PolicyVersionList?.find((x) => x.IsDefaultVersion) ??
      p.PolicyVersionList?.find((x) => x.VersionId === p.DefaultVersionId) ??
      p.PolicyVersionList?.[0];
    if (!v) continue;
    managed.set(p.Arn, {
      name: p.PolicyName,
      arn: p.Arn,
      kind: "managed",
      document: decodeDocument(v.Document, `${where}: ${p.Arn}`),
    });
  }
  const attached = (list: { PolicyName: string; PolicyArn: string }[] | undefined, who: string) => {
    const out: NamedPolicy[] = [];
    for (const a of list ?? []) {
      const m = managed.get(a.PolicyArn);
      if (m) out.push(m);
      else
        set.notes.push(`${who}: managed policy ${a.PolicyArn} is not in the file's Policies list; left out`);
    }
    return out;
  };
  const inline = (list: { PolicyName: string; PolicyDocument: unknown }[] | undefined, who: string) =>
    (list ?? []).map((p): NamedPolicy => ({
      name: p.PolicyName,
      kind: "inline",
      document: decodeDocument(p.PolicyDocument, `${where}: ${who} ${p.PolicyName}`),
    }));
  const groups = new Map<string, NamedPolicy[]>();
  for (const g of d.GroupDetailList ?? [])
    groups.set(g.GroupName, [
      ...inline(g.GroupPolicyList, g.Arn),
      ...attached(g.AttachedManagedPolicies, g.Arn),
    ]);
  const boundary = (b: { PermissionsBoundaryArn: string } | undefined, who: string) => {
    if (!b) return undefined;
    const m = managed.get(b.PermissionsBoundaryArn);
    if (!m)
      set.notes.push(
        `${who}: permissions boundary ${b.PermissionsBoundaryArn} is not in the file; not applied`,
      );
    return m;
  };
  const add = (arn: string, policies: NamedPolicy[], b: NamedPolicy | undefined) => {
    const prev = set.principals.get(arn);
    if (prev) prev.policies.push(...policies);
    else set.principals.set(arn, { principal: arn, policies, ...(b ? { boundary: b } : {}) });
  };
  for (const u of d.UserDetailList ?? []) {
    const viaGroups = (u.GroupList ?? []).flatMap((g) =>
      (groups.get(g) ?? []).map((p) => ({ ...p, group: g })),
    );
    add(
      u.Arn,
      [...inline(u.UserPolicyList, u.Arn), ...attached(u.AttachedManagedPolicies, u.Arn), ...viaGroups],
      boundary(u.PermissionsBoundary, u.Arn),
    );
  }
  for (const r of d.RoleDetailList ?? [])
    add(
      r.Arn,
      [...inline(r.RolePolicyList, r.Arn), ...attached(r.AttachedManagedPolicies, r.Arn)],
      boundary(r.PermissionsBoundary, r.Arn),
    );
}

function readPolicyJson(value: unknown, file: string, set: PolicySet): void {
  if (typeof value !== "object" || value === null) throw new Invalid("expected a JSON object", file);
  const o = value as Record<string, unknown>;
  const name = basename(file).replace(/\.json$/i, "");
  if ("UserDetailList" in o || "RoleDetailList" in o || "GroupDetailList" in o)
    readAuthorizationDetails(o as AuthDetails, file, set);
  else if ("Statement" in o) set.unbound.push({ name, kind: "managed", document: decodeDocument(o, file) });
  else if ("PolicyVersion" in o && typeof o.PolicyVersion === "object" && o.PolicyVersion !== null)
    // `aws iam get-policy-version` output
    set.unbound.push({
      name,
      kind: "managed",
      document: decodeDocument((o.PolicyVersion as { Document: unknown }).Document, file),
    });
  else if ("document" in o)
    // a managed-policy record in iam-dataset's shape: {name, arn, document, …}
    set.unbound.push({
      name: typeof o.name === "string" ? o.name : name,
      ...(typeof o.arn === "string" ? { arn: o.arn } : {}),
      kind: "managed",
      document: decodeDocument(o.document, file),
    });
  else throw new Invalid("neither a policy document nor get-account-authorization-details output", file);
}

async function jsonFiles(path: string): Promise<string[]> {
  const s = await stat(path).catch(() => undefined);
  if (!s) throw new Invalid("no such file or directory", path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await jsonFiles(p)));
    else if (e.name.toLowerCase().endsWith(".json")) out.push(p);
  }
  return out;
}

/** Reads policies from files and directories (every *.json under a directory). */
export async function loadPolicies(paths: readonly string[]): Promise<PolicySet> {
  const set: PolicySet = { principals: new Map(), unbound: [], notes: [] };
  for (const path of paths)
    for (const file of await jsonFiles(path)) {
      let value: unknown;
      try {
        value = JSON.parse(await readFile(file, "utf8"));
      } catch (e) {
        throw new Invalid(`not JSON: ${(e as Error).message}`, file);
      }
      readPolicyJson(value, file, set);
    }
  return set;
}

/** The policies that apply to `principal`: its own, else the unbound ones. */
export function policiesFor(set: PolicySet, principal: string): PrincipalPolicies | undefined {
  const own = set.principals.get(principal);
  if (own) return own;
  if (set.unbound.length === 0) return undefined;
  return { principal, policies: set.unbound };
}
