// Kubernetes RBAC objects and the authorizer's matching rules (the semantics of
// k8s.io/component-helpers/auth/rbac/validation and plugin/pkg/auth/authorizer/rbac): verbs, API
// groups, resources with subresources ("pods/exec", "*/scale"), resourceNames, nonResourceURLs with a
// trailing '*', Role/ClusterRole bound by RoleBinding (namespace only) or ClusterRoleBinding (all).
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { documentData } from "../../../config/yaml.ts";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";

/** One rule of a Role or ClusterRole, as the rbac.authorization.k8s.io/v1 API spells it. */
export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

/** A binding subject; ServiceAccount subjects name their namespace. */
export interface Subject {
  kind: "User" | "Group" | "ServiceAccount";
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface RoleRef {
  apiGroup: string;
  kind: "Role" | "ClusterRole";
  name: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface Role {
  apiVersion: string;
  kind: "Role";
  metadata: ObjectMeta;
  rules: PolicyRule[];
}

export interface ClusterRole {
  apiVersion: string;
  kind: "ClusterRole";
  metadata: ObjectMeta;
  rules: PolicyRule[];
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] };
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
  }[];
}

export interface RoleBinding {
  apiVersion: string;
  kind: "RoleBinding";
  metadata: ObjectMeta;
  roleRef: RoleRef;
  subjects: Subject[];
}

export interface ClusterRoleBinding {
  apiVersion: string;
  kind: "ClusterRoleBinding";
  metadata: ObjectMeta;
  roleRef: RoleRef;
  subjects: Subject[];
}

export type RbacObject = Role | ClusterRole | RoleBinding | ClusterRoleBinding;

/** A set of RBAC objects, by kind. */
export interface RbacObjects {
  roles: Role[];
  clusterRoles: ClusterRole[];
  roleBindings: RoleBinding[];
  clusterRoleBindings: ClusterRoleBinding[];
}

/** What the API server authorizes: a resource request or a non-resource request (path). */
export interface RbacRequest {
  user: string;
  groups: readonly string[];
  verb: string;
  /** True for API resources; false for non-resource URLs such as /healthz. */
  resourceRequest: boolean;
  apiGroup: string;
  resource: string;
  subresource: string;
  /** "" for cluster-scoped resources and for requests across all namespaces. */
  namespace: string;
  name: string;
  /** The URL path of a non-resource request, without the query. */
  path: string;
}

export const RBAC_API_VERSION = "rbac.authorization.k8s.io/v1";
export const RBAC_GROUP = "rbac.authorization.k8s.io";
const SA_PREFIX = "system:serviceaccount:";

const str = z.string();
const strs = z.array(str).nullish();
const meta = z.object({
  name: z.string().min(1),
  namespace: z.string().nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
});
const ruleSchema = z.object({
  verbs: z.array(str),
  apiGroups: strs,
  resources: strs,
  resourceNames: strs,
  nonResourceURLs: strs,
});
const selectorSchema = z.object({
  matchLabels: z.record(z.string(), z.string()).nullish(),
  matchExpressions: z
    .array(
      z.object({
        key: z.string(),
        operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
        values: strs,
      }),
    )
    .nullish(),
});
const subjectSchema = z.object({
  kind: z.enum(["User", "Group", "ServiceAccount"]),
  name: z.string().min(1),
  namespace: z.string().nullish(),
  apiGroup: z.string().nullish(),
});
const roleRefSchema = z.object({
  apiGroup: z.string().nullish(),
  kind: z.enum(["Role", "ClusterRole"]),
  name: z.string().min(1),
});
const roleSchema = z.object({ metadata: meta, rules: z.array(ruleSchema).nullish() });
const clusterRoleSchema = roleSchema.extend({
  aggregationRule: z.object({ clusterRoleSelectors: z.array(selectorSchema).nullish() }).nullish(),
});
const bindingSchema = z.object({
  metadata: meta,
  roleRef: roleRefSchema,
  subjects: z.array(subjectSchema).nullish(),
});

function clean<T extends object>(o: T): T {
  // zod's nullish leaves nulls in place; manifests write `field: null` or omit it interchangeably.
  return JSON.parse(JSON.stringify(o, (_k, v: unknown) => (v === null ? undefined : v))) as T;
}

function metaOf(m: z.infer<typeof meta>): ObjectMeta {
  return clean({
    name: m.name,
    namespace: m.namespace ?? undefined,
    labels: m.labels ?? undefined,
    annotations: m.annotations ?? undefined,
  }) as ObjectMeta;
}

function ruleOf(r: z.infer<typeof ruleSchema>): PolicyRule {
  return clean(r) as PolicyRule;
}

function issues(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `${i.path.join(".") || "(object)"}: ${i.message}` : "invalid object";
}

/** Empty RBAC object set. */
export function emptyRbac(): RbacObjects {
  return { roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [] };
}

/** Adds one decoded manifest (an RBAC object or a `List` of them) to `into`; other kinds are ignored. */
export function addRbacObject(into: RbacObjects, value: unknown, where: string): void {
  if (!value || typeof value !== "object") return;
  const v = value as { kind?: unknown; items?: unknown };
  if (typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items)) {
    v.items.forEach((item, i) => addRbacObject(into, item, `${where}[${i}]`));
    return;
  }
  const parse = <S extends z.ZodType>(schema: S): z.infer<S> => {
    const r = schema.safeParse(value);
    if (!r.success) throw new Invalid(issues(r.error), `${where} (${String(v.kind)})`);
    return r.data;
  };
  switch (v.kind) {
    case "Role": {
      const o = parse(roleSchema);
      const m = metaOf(o.metadata);
      if (!m.namespace) throw new Invalid("a Role needs metadata.namespace", `${where} (Role ${m.name})`);
      into.roles.push({
        apiVersion: RBAC_API_VERSION,
        kind: "Role",
        metadata: m,
        rules: (o.rules ?? []).map(ruleOf),
      });
      return;
    }
    case "ClusterRole": {
      const o = parse(clusterRoleSchema);
      const cr: ClusterRole = {
        apiVersion: RBAC_API_VERSION,
        kind: "ClusterRole",
        metadata: metaOf(o.metadata),
        rules: (o.rules ?? []).map(ruleOf),
      };
      if (o.aggregationRule) cr.aggregationRule = clean(o.aggregationRule) as ClusterRole["aggregationRule"];
      into.clusterRoles.push(cr);
      return;
    }
    case "RoleBinding":
    case "ClusterRoleBinding": {
      const o = parse(bindingSchema);
      const m = metaOf(o.metadata);
      if (v.kind === "RoleBinding" && !m.namespace)
        throw new Invalid("a RoleBinding needs metadata.namespace", `${where} (RoleBinding ${m.name})`);
      if (v.kind === "ClusterRoleBinding" && o.roleRef.kind === "Role")
        throw new Invalid("a ClusterRoleBinding can only refer to a ClusterRole", `${where} (${m.name})`);
      const b = {
        apiVersion: RBAC_API_VERSION,
        metadata: m,
        roleRef: { apiGroup: RBAC_GROUP, kind: o.roleRef.kind, name: o.roleRef.name },
        subjects: (o.subjects ?? []).map((s) => clean(s) as Subject),
      };
      if (v.kind === "RoleBinding") into.roleBindings.push({ ...b, kind: "RoleBinding" });
      else into.clusterRoleBindings.push({ ...b, kind: "ClusterRoleBinding" });
      return;
    }
    default:
      return;
  }
}

/** Parses a YAML or JSON stream (multi-document, `kind: List`) of RBAC objects. */
export function parseRbac(text: string, file = "<input>", into: RbacObjects = emptyRbac()): RbacObjects {
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) return into;
  docs.forEach((doc, i) => {
    const err = doc.errors[0];
    if (err) throw new Invalid(err.message.split("\n")[0] ?? "invalid YAML", file);
    if (doc.contents === null) return;
    const read = documentData(doc);
    if ("problems" in read) throw new Invalid(read.problems[0]?.message ?? "not plain data", file);
    addRbacObject(into, read.value, docs.length > 1 ? `${file}#${i + 1}` : file);
  });
  return into;
}

const manifestFile = /\.(ya?ml|json)$/i;

/** Loads RBAC objects from files and directories (recursively: *.yaml, *.yml, *.json). */
export async function loadRbac(paths: readonly string[]): Promise<RbacObjects> {
  const out = emptyRbac();
  const files: string[] = [];
  const walk = async (p: string): Promise<void> => {
    const s = await stat(p).catch(() => undefined);
    if (!s) throw new Invalid("no such file or directory", p);
    if (!s.isDirectory()) {
      files.push(p);
      return;
    }
    const entries = (await readdir(p, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const child = join(p, e.name);
      if (e.isDirectory()) await walk(child);
      else if (manifestFile.test(e.name)) files.push(child);
    }
  };
  for (const p of paths) await walk(p);
  for (const f of files) parseRbac(await readFile(f, "utf8"), f, out);
  return resolveAggregation(out);
}

function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const val = labels[e.key];
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
    if (e.operator === "In" && !(has && (e.values ?? []).includes(val as string))) return false;
    if (e.operator === "NotIn" && has && (e.values ?? []).includes(val as string)) return false;
  }
  // An empty selector selects nothing in the aggregation controller.
  return Object.keys(sel.matchLabels ?? {}).length > 0 || (sel.matchExpressions ?? []).length > 0;
}

/**
 * Fills each aggregated ClusterRole's rules from the ClusterRoles its selectors match (as the
 * clusterrole-aggregation controller does), so evaluation sees what the cluster would grant.
 */
export function resolveAggregation(objects: RbacObjects): RbacObjects {
  const byName = new Map(objects.clusterRoles.map((c) => [c.metadata.name, c]));
  const resolving = new Set<string>();
  const resolved = new Set<string>();
  const resolve = (cr: ClusterRole): PolicyRule[] => {
    const selectors = cr.aggregationRule?.clusterRoleSelectors;
    if (!selectors || selectors.length === 0 || resolved.has(cr.metadata.name)) return cr.rules;
    if (resolving.has(cr.metadata.name)) return cr.rules;
    resolving.add(cr.metadata.name);
    const rules: PolicyRule[] = [];
    const seen = new Set<string>();
    for (const other of [...byName.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      if (other === cr) continue;
      if (!selectors.some((s) => selectorMatches(s, other.metadata.labels ?? {}))) continue;
      for (const r of resolve(other)) {
        const key = JSON.stringify(r);
        if (!seen.has(key)) {
          seen.add(key);
          rules.push(r);
        }
      }
    }
    // Rules already written into the aggregate (as the controller would have) are kept as well.
    for (const r of cr.rules) {
      const key = JSON.stringify(r);
      if (!seen.has(key)) {
        seen.add(key);
        rules.push(r);
      }
    }
    cr.rules = rules;
    resolving.delete(cr.metadata.name);
    resolved.add(cr.metadata.name);
    return rules;
  };
  for (const cr of objects.clusterRoles) resolve(cr);
  return objects;
}

/** The username a service account authenticates as. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `${SA_PREFIX}${namespace}:${name}`;
}

/** Splits `system:serviceaccount:NS:NAME`; undefined for other users. */
export function splitServiceAccount(user: string): { namespace: string; name: string } | undefined {
  if (!user.startsWith(SA_PREFIX)) return undefined;
  const parts = user.slice(SA_PREFIX.length).split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1]) return undefined;
  return { namespace: parts[0], name: parts[1] };
}

/** The binding subject for a username (ServiceAccount for service-account users). */
export function subjectFor(user: string): Subject {
  const sa = splitServiceAccount(user);
  if (sa) return { kind: "ServiceAccount", name: sa.name, namespace: sa.namespace };
  return { kind: "User", apiGroup: RBAC_GROUP, name: user };
}

/** Whether a binding subject names this user or one of its groups. */
export function subjectMatches(s: Subject, user: string, groups: readonly string[], bindingNs = ""): boolean {
  switch (s.kind) {
    case "User":
      return s.name === user;
    case "Group":
      return groups.includes(s.name);
    case "ServiceAccount": {
      const ns = s.namespace || bindingNs;
      return ns !== "" && user === serviceAccountUser(ns, s.name);
    }
  }
}

const has = (list: readonly string[] | undefined, v: string) =>
  !!list && (list.includes("*") || list.includes(v));

/** Whether one rule allows a request (the API server's RuleAllows). */
export function ruleAllows(rule: PolicyRule, req: RbacRequest): boolean {
  if (!has(rule.verbs, req.verb)) return false;
  if (!req.resourceRequest) {
    for (const u of rule.nonResourceURLs ?? []) {
      if (u === "*" || u === req.path) return true;
      if (u.endsWith("*") && req.path.startsWith(u.slice(0, -1))) return true;
    }
    return false;
  }
  if (!has(rule.apiGroups, req.apiGroup)) return false;
  const combined = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  const resOk = (rule.resources ?? []).some(
    (r) => r === "*" || r === combined || (req.subresource !== "" && r === `*/${req.subresource}`),
  );
  if (!resOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || names.includes(req.name);
}

/** A rule in force for a subject, with where it comes from. */
export interface EffectiveRule {
  rule: PolicyRule;
  /** The namespace the rule is limited to; "" when bound cluster-wide. */
  namespace: string;
  binding: { kind: "RoleBinding" | "ClusterRoleBinding"; name: string; namespace?: string };
  role: { kind: "Role" | "ClusterRole"; name: string; namespace?: string };
  /** The binding subject that matched (the user itself, a group, or the service account). */
  via: Subject;
}

/** Every rule bound to a user or its groups, with its scope (RoleBinding namespace or cluster-wide). */
export function rulesFor(objects: RbacObjects, user: string, groups: readonly string[]): EffectiveRule[] {
  const out: EffectiveRule[] = [];
  const clusterRole = new Map(objects.clusterRoles.map((c) => [c.metadata.name, c]));
  const role = new Map(objects.roles.map((r) => [`${r.metadata.namespace}/${r.metadata.name}`, r]));
  for (const b of objects.clusterRoleBindings) {
    const via = b.subjects.find((s) => subjectMatches(s, user, groups));
    const cr = clusterRole.get(b.roleRef.name);
    if (!via || !cr) continue;
    for (const rule of cr.rules)
      out.push({
        rule,
        namespace: "",
        binding: { kind: "ClusterRoleBinding", name: b.metadata.name },
        role: { kind: "ClusterRole", name: cr.metadata.name },
        via,
      });
  }
  for (const b of objects.roleBindings) {
    const ns = b.metadata.namespace ?? "";
    const via = b.subjects.find((s) => subjectMatches(s, user, groups, ns));
    if (!via) continue;
    const r =
      b.roleRef.kind === "Role" ? role.get(`${ns}/${b.roleRef.name}`) : clusterRole.get(b.roleRef.name);
    if (!r) continue;
    for (const rule of r.rules) {
      // A RoleBinding grants resources in its namespace only; nonResourceURLs need a ClusterRoleBinding.
      if (!rule.resources?.length) continue;
      out.push({
        rule,
        namespace: ns,
        binding: { kind: "RoleBinding", name: b.metadata.name, namespace: ns },
        role:
          b.roleRef.kind === "Role"
            ? { kind: "Role", name: r.metadata.name, namespace: ns }
            : { kind: "ClusterRole", name: r.metadata.name },
        via,
      });
    }
  }
  return out;
}

/** Whether an effective rule applies to a request's namespace. */
export function ruleInScope(e: { namespace: string }, req: RbacRequest): boolean {
  return e.namespace === "" || (req.resourceRequest && e.namespace === req.namespace);
}

/** An authorizer over a set of RBAC objects: allow if any bound rule allows. Deny by default. */
export function createAuthorizer(objects: RbacObjects): (req: RbacRequest) => boolean {
  const cache = new Map<string, EffectiveRule[]>();
  return (req) => {
    const key = `${req.user}\u0000${req.groups.join("\u0000")}`;
    let rules = cache.get(key);
    if (!rules) {
      rules = rulesFor(objects, req.user, req.groups);
      cache.set(key, rules);
    }
    return rules.some((e) => ruleInScope(e, req) && ruleAllows(e.rule, req));
  };
}

/** Merges RBAC object sets (no copying of rules). */
export function mergeRbac(...sets: RbacObjects[]): RbacObjects {
  const out = emptyRbac();
  for (const s of sets) {
    out.roles.push(...s.roles);
    out.clusterRoles.push(...s.clusterRoles);
    out.roleBindings.push(...s.roleBindings);
    out.clusterRoleBindings.push(...s.clusterRoleBindings);
  }
  return out;
}

/**
 * The discovery grants every cluster gives authenticated users (ClusterRole system:discovery as
 * audit2rbac models it): requests they allow need no generated rule.
 */
export function discoveryBaseline(): RbacObjects {
  return {
    roles: [],
    roleBindings: [],
    clusterRoles: [
      {
        apiVersion: RBAC_API_VERSION,
        kind: "ClusterRole",
        metadata: { name: "system:discovery" },
        rules: [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/version", "/swagger*", "/api*"] }],
      },
    ],
    clusterRoleBindings: [
      {
        apiVersion: RBAC_API_VERSION,
        kind: "ClusterRoleBinding",
        metadata: { name: "system:discovery" },
        roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: "system:discovery" },
        subjects: [
          { kind: "Group", apiGroup: RBAC_GROUP, name: "system:authenticated" },
          { kind: "Group", apiGroup: RBAC_GROUP, name: "system:unauthenticated" },
        ],
      },
    ],
  };
}
