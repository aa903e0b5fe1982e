// Per-principal least-privilege analysis of Kubernetes RBAC: what was used, which current rules
// went unused, the minimal Roles/ClusterRoles proposed, risk before and after, reduction, and a
// replay of every observed request through the proposal (none may be denied).
import { stringify } from "yaml";
import type { DeniedAttempt, PrincipalAnalysis, UsedPermission } from "../types.ts";
import { type AuditUsage, type PrincipalUsage, requestKey } from "./audit.ts";
import {
  describeRequest,
  type GenerateOptions,
  generateRoles,
  grantsAtom,
  type PermissionAtom,
  ruleAtoms,
} from "./generate.ts";
import {
  type ClusterRole,
  type ClusterRoleBinding,
  createAuthorizer,
  discoveryBaseline,
  type EffectiveRule,
  emptyRbac,
  mergeRbac,
  type PolicyRule,
  type RbacObject,
  type RbacObjects,
  type RbacRequest,
  type Role,
  type RoleBinding,
  ruleAllows,
  ruleInScope,
  rulesFor,
  type Subject,
  subjectFor,
} from "./rbac.ts";
import { type K8sRiskFlags, riskCount, riskFlags, ruleSource } from "./risk.ts";

export interface K8sAnalyzeOptions extends GenerateOptions {
  /** Never propose what the subject did not already have; 403s are reported, not granted. */
  withinCurrent: boolean;
  /** Skip requests the default discovery grants allow (audit2rbac does; default true). */
  discoveryBaseline: boolean;
}

export const DEFAULT_ANALYZE_OPTIONS: K8sAnalyzeOptions = {
  expandVerbs: true,
  verbExpansions: {
    watch: ["get", "list"],
    list: ["get", "watch"],
    update: ["get", "patch"],
    patch: ["get", "update"],
  },
  expandMultiName: true,
  expandMultiNamespace: false,
  withinCurrent: false,
  discoveryBaseline: true,
};

/** One distinct request a principal made. */
export interface K8sUse {
  permission: string;
  request: RbacRequest;
  count: number;
  allowed: number;
  denied: number;
  first: string;
  last: string;
  /** Current rules that allow it (sources), empty when none does. */
  grantedBy: string[];
}

/** A current rule and whether any observed request used it. */
export interface K8sRuleUse {
  rule: PolicyRule;
  namespace: string;
  source: string;
  used: boolean;
}

/** The analysis of one principal, in the shape shared by the IAM analysers. */
export interface K8sPrincipalAnalysis {
  principal: string;
  platform: "k8s";
  subject: Subject;
  groups: string[];
  window: { from: string; to: string };
  used: K8sUse[];
  /** Current rules no observed request used. */
  unused: K8sRuleUse[];
  current: K8sRuleUse[];
  /** Platform-native proposal: Roles, ClusterRoles and their bindings. */
  proposed: RbacObjects;
  /** The current objects that bind this subject directly (User or ServiceAccount), to restore. */
  rollback: RbacObjects;
  /** Bindings through groups: shared with others, so listed, never replaced. */
  sharedGrants: string[];
  diff: { removed: string[]; kept: string[]; added: string[] };
  risk: { before: K8sRiskFlags; after: K8sRiskFlags };
  /** 1 − |effective(M)| / |effective(P)| over the catalogue; undefined without current grants. */
  reduction: number | undefined;
  effective: { before: number; after: number };
  widened: string[];
  attemptedDenied: string[];
  notInCurrent: string[];
  coveredByBaseline: number;
  verification: {
    replayed: number;
    allowed: number;
    denied: string[];
    /** Atoms the proposal grants that the current grants do not (must be empty with --within-current). */
    beyondCurrent: string[];
  };
}

// The built-in resources counted for reduction (namespaced or not), with the verbs each has.
const STANDARD_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const CATALOGUE: [group: string, resource: string, namespaced: boolean][] = [
  ["", "pods", true],
  ["", "pods/log", true],
  ["", "pods/exec", true],
  ["", "pods/attach", true],
  ["", "pods/portforward", true],
  ["", "services", true],
  ["", "endpoints", true],
  ["", "configmaps", true],
  ["", "secrets", true],
  ["", "serviceaccounts", true],
  ["", "serviceaccounts/token", true],
  ["", "persistentvolumeclaims", true],
  ["", "events", true],
  ["", "replicationcontrollers", true],
  ["", "limitranges", true],
  ["", "resourcequotas", true],
  ["", "namespaces", false],
  ["", "nodes", false],
  ["", "nodes/proxy", false],
  ["", "persistentvolumes", false],
  ["apps", "deployments", true],
  ["apps", "deployments/scale", true],
  ["apps", "daemonsets", true],
  ["apps", "statefulsets", true],
  ["apps", "replicasets", true],
  ["batch", "jobs", true],
  ["batch", "cronjobs", true],
  ["autoscaling", "horizontalpodautoscalers", true],
  ["policy", "poddisruptionbudgets", true],
  ["networking.k8s.io", "ingresses", true],
  ["networking.k8s.io", "networkpolicies", true],
  ["rbac.authorization.k8s.io", "roles", true],
  ["rbac.authorization.k8s.io", "rolebindings", true],
  ["rbac.authorization.k8s.io", "clusterroles", false],
  ["rbac.authorization.k8s.io", "clusterrolebindings", false],
  ["storage.k8s.io", "storageclasses", false],
  ["apiextensions.k8s.io", "customresourcedefinitions", false],
  ["admissionregistration.k8s.io", "mutatingwebhookconfigurations", false],
  ["admissionregistration.k8s.io", "validatingwebhookconfigurations", false],
  ["coordination.k8s.io", "leases", true],
  ["discovery.k8s.io", "endpointslices", true],
  ["certificates.k8s.io", "certificatesigningrequests", false],
];
const SPECIAL: [verb: string, group: string, resource: string][] = [
  ["escalate", "rbac.authorization.k8s.io", "roles"],
  ["bind", "rbac.authorization.k8s.io", "roles"],
  ["escalate", "rbac.authorization.k8s.io", "clusterroles"],
  ["bind", "rbac.authorization.k8s.io", "clusterroles"],
  ["impersonate", "", "users"],
  ["impersonate", "", "groups"],
  ["impersonate", "", "serviceaccounts"],
];
const URLS = [
  "/api",
  "/apis",
  "/healthz",
  "/livez",
  "/readyz",
  "/version",
  "/metrics",
  "/openapi/v2",
  "/openapi/v3",
  "/logs",
];

/** Universe of permission atoms the reduction counts: catalogue ∪ everything named in rules or uses. */
function universe(rulesets: EffectiveRule[][], uses: RbacRequest[]): PermissionAtom[] {
  const namespaces = new Set<string>();
  const resources = new Map<string, boolean>(); // "group\0resource" -> namespaced
  const urls = new Set(URLS);
  const names = new Set<string>();
  const verbs = new Set(STANDARD_VERBS);
  for (const [g, r, ns] of CATALOGUE) resources.set(`${g}\u0000${r}`, ns);
  for (const rules of rulesets)
    for (const e of rules) {
      if (e.namespace) namespaces.add(e.namespace);
      for (const v of e.rule.verbs) if (v !== "*") verbs.add(v);
      for (const n of e.rule.resourceNames ?? []) names.add(n);
      for (const u of e.rule.nonResourceURLs ?? []) if (!u.endsWith("*")) urls.add(u);
      for (const g of e.rule.apiGroups ?? [])
        for (const r of e.rule.resources ?? [])
          if (g !== "*" && r !== "*" && !r.startsWith("*/") && !resources.has(`${g}\u0000${r}`))
            resources.set(`${g}\u0000${r}`, true);
    }
  for (const u of uses) {
    verbs.add(u.verb);
    if (!u.resourceRequest) urls.add(u.path);
    else {
      if (u.namespace) namespaces.add(u.namespace);
      if (u.name) names.add(u.name);
      const res = u.subresource ? `${u.resource}/${u.subresource}` : u.resource;
      if (!resources.has(`${u.apiGroup}\u0000${res}`))
        resources.set(`${u.apiGroup}\u0000${res}`, u.namespace !== "");
    }
  }
  const out: PermissionAtom[] = [];
  const nameChoices: (string | undefined)[] = [undefined, ...names];
  for (const [key, namespaced] of resources) {
    const [apiGroup, resource] = key.split("\u0000") as [string, string];
    const scopes = namespaced ? ["", ...namespaces] : [""];
    for (const namespace of scopes)
      for (const verb of verbs)
        for (const name of nameChoices)
          out.push({
            verb,
            resourceRequest: true,
            apiGroup,
            resource,
            namespace,
            path: "",
            ...(name !== undefined ? { name } : {}),
          });
  }
  for (const [verb, apiGroup, resource] of SPECIAL)
    out.push({ verb, resourceRequest: true, apiGroup, resource, namespace: "", path: "" });
  for (const path of urls)
    for (const verb of verbs)
      out.push({ verb, resourceRequest: false, apiGroup: "", resource: "", namespace: "", path });
  return out;
}

function atomText(a: PermissionAtom): string {
  if (!a.resourceRequest) return `${a.verb} ${a.path}`;
  return `${a.verb} ${a.resource}${a.apiGroup ? `.${a.apiGroup}` : ""}${a.name !== undefined ? `/${a.name}` : ""} ${a.namespace ? `-n ${a.namespace}` : "cluster-wide"}`;
}

function ruleText(e: { rule: PolicyRule; namespace: string }): string {
  const r = e.rule;
  const parts = [`verbs=${r.verbs.join(",")}`];
  if (r.nonResourceURLs?.length) parts.push(`urls=${r.nonResourceURLs.join(",")}`);
  if (r.apiGroups?.length) parts.push(`groups=${r.apiGroups.map((g) => g || '""').join(",")}`);
  if (r.resources?.length) parts.push(`resources=${r.resources.join(",")}`);
  if (r.resourceNames?.length) parts.push(`names=${r.resourceNames.join(",")}`);
  return `${parts.join(" ")} ${e.namespace ? `-n ${e.namespace}` : "cluster-wide"}`;
}

function directlyBinds(subjects: Subject[], subject: Subject, bindingNs = ""): boolean {
  return subjects.some(
    (s) =>
      s.kind === subject.kind &&
      s.name === subject.name &&
      (s.kind !== "ServiceAccount" || (s.namespace || bindingNs) === subject.namespace),
  );
}

/** The current objects that bind a subject directly, and the roles they refer to. */
function rollbackObjects(current: RbacObjects, subject: Subject): RbacObjects {
  const out = emptyRbac();
  const crb = current.clusterRoleBindings.filter((b) => directlyBinds(b.subjects, subject));
  const rb = current.roleBindings.filter((b) => directlyBinds(b.subjects, subject, b.metadata.namespace));
  out.clusterRoleBindings.push(...crb);
  out.roleBindings.push(...rb);
  const crNames = new Set([
    ...crb.map((b) => b.roleRef.name),
    ...rb.filter((b) => b.roleRef.kind === "ClusterRole").map((b) => b.roleRef.name),
  ]);
  out.clusterRoles.push(...current.clusterRoles.filter((c) => crNames.has(c.metadata.name)));
  const roleKeys = new Set(
    rb.filter((b) => b.roleRef.kind === "Role").map((b) => `${b.metadata.namespace}/${b.roleRef.name}`),
  );
  out.roles.push(...current.roles.filter((r) => roleKeys.has(`${r.metadata.namespace}/${r.metadata.name}`)));
  return out;
}

/** Analyses one principal's usage against the current RBAC objects. */
export function analyzePrincipal(
  usage: PrincipalUsage,
  current: RbacObjects,
  options: Partial<K8sAnalyzeOptions> = {},
): K8sPrincipalAnalysis {
  const opts = { ...DEFAULT_ANALYZE_OPTIONS, ...options };
  const user = usage.user;
  const groups = [...usage.groups];
  const subject = subjectFor(user);
  const currentRules = rulesFor(current, user, groups);
  const observed = [...usage.requests.values()];
  const baseline = opts.discoveryBaseline ? discoveryBaseline() : undefined;

  const gen = generateRoles(
    user,
    groups,
    observed.map((o) => ({ request: o.request, allowed: o.allowed > 0 })),
    opts,
    { ...(baseline ? { baseline } : {}), ...(opts.withinCurrent ? { current } : {}) },
  );
  const proposed = gen.objects;

  const ruleUse: K8sRuleUse[] = currentRules.map((e) => ({
    rule: e.rule,
    namespace: e.namespace,
    source: ruleSource(e),
    used: false,
  }));
  const used: K8sUse[] = observed.map((o) => {
    const req = { ...o.request, user, groups };
    const grantedBy: string[] = [];
    currentRules.forEach((e, i) => {
      if (!ruleInScope(e, req) || !ruleAllows(e.rule, req)) return;
      grantedBy.push(ruleSource(e));
      // A request refused with 403 used nothing, whatever the files say today.
      if (o.allowed > 0) (ruleUse[i] as K8sRuleUse).used = true;
    });
    return {
      permission: describeRequest(o.request),
      request: o.request,
      count: o.count,
      allowed: o.allowed,
      denied: o.denied,
      first: o.first,
      last: o.last,
      grantedBy: [...new Set(grantedBy)],
    };
  });
  used.sort((a, b) => (a.permission < b.permission ? -1 : a.permission > b.permission ? 1 : 0));

  // Replay: every request the proposal must cover, through proposal + baseline.
  const exempt = new Set(
    [...gen.attemptedDenied, ...gen.notInCurrent, ...gen.unrepresentable].map(requestKey),
  );
  const check = createAuthorizer(baseline ? mergeRbac(proposed, baseline) : proposed);
  const denied: string[] = [];
  let replayed = 0;
  for (const o of observed) {
    const req = { ...o.request, user, groups };
    if (exempt.has(requestKey(req))) continue;
    replayed++;
    if (!check(req)) denied.push(describeRequest(req));
  }

  const proposedRules = rulesFor(proposed, user, groups);
  const beyondCurrent: string[] = [];
  for (const e of proposedRules)
    for (const a of ruleAtoms(e.rule, e.namespace))
      if (!grantsAtom(currentRules, a)) beyondCurrent.push(atomText(a));

  const atoms = universe(
    [currentRules, proposedRules],
    observed.map((o) => o.request),
  );
  const before = atoms.filter((a) => grantsAtom(currentRules, a)).length;
  const after = atoms.filter((a) => grantsAtom(proposedRules, a)).length;

  const direct = currentRules.filter((e) => e.via.kind !== "Group");
  const sharedGrants = [...new Set(currentRules.filter((e) => e.via.kind === "Group").map(ruleSource))];
  const rollback = rollbackObjects(current, subject);

  return {
    principal: user,
    platform: "k8s",
    subject,
    groups,
    window: { from: usage.first, to: usage.last },
    used,
    unused: ruleUse.filter((r) => !r.used),
    current: ruleUse,
    proposed,
    rollback,
    sharedGrants,
    diff: {
      removed: direct
        .filter((e) => !ruleUse[currentRules.indexOf(e)]?.used)
        .map((e) => `${ruleText(e)} (${ruleSource(e)})`),
      kept: direct
        .filter((e) => ruleUse[currentRules.indexOf(e)]?.used)
        .map((e) => `${ruleText(e)} (${ruleSource(e)})`),
      added: proposedRules.map((e) => ruleText(e)),
    },
    risk: { before: riskFlags(currentRules), after: riskFlags(proposedRules) },
    reduction: before > 0 ? 1 - after / before : undefined,
    effective: { before, after },
    widened: gen.widened,
    attemptedDenied: gen.attemptedDenied.map((r) => `${describeRequest(r)}: attempted, denied`).sort(),
    notInCurrent: gen.notInCurrent.map(describeRequest).sort(),
    coveredByBaseline: gen.coveredByBaseline.length,
    verification: {
      replayed,
      allowed: replayed - denied.length,
      denied,
      beyondCurrent: [...new Set(beyondCurrent)],
    },
  };
}

/** Analyses every principal in the usage (or only `user`), sorted by principal. */
export function analyzeK8s(
  usage: AuditUsage,
  current: RbacObjects,
  options: Partial<K8sAnalyzeOptions> & { user?: string } = {},
): K8sPrincipalAnalysis[] {
  const out: K8sPrincipalAnalysis[] = [];
  for (const p of [...usage.principals.values()].sort((a, b) =>
    a.user < b.user ? -1 : a.user > b.user ? 1 : 0,
  )) {
    if (options.user !== undefined && p.user !== options.user) continue;
    out.push(analyzePrincipal(p, current, options));
  }
  return out;
}

/** Kubernetes manifests (multi-document YAML) in apply order: roles before their bindings. */
export function manifestsYaml(objects: RbacObjects): string {
  const docs: RbacObject[] = [
    ...objects.clusterRoles,
    ...objects.clusterRoleBindings,
    ...objects.roles,
    ...objects.roleBindings,
  ];
  return docs.map((d) => stringify(manifest(d), { lineWidth: 0 })).join("---\n");
}

function manifest(o: RbacObject): Record<string, unknown> {
  const base = { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata };
  if (o.kind === "Role" || o.kind === "ClusterRole") {
    const r = o as Role | ClusterRole;
    return {
      ...base,
      ...(r.kind === "ClusterRole" && r.aggregationRule ? { aggregationRule: r.aggregationRule } : {}),
      rules: r.rules,
    };
  }
  const b = o as RoleBinding | ClusterRoleBinding;
  return { ...base, roleRef: b.roleRef, subjects: b.subjects };
}

/** Whether the rollback set is empty (the subject had only group grants or none). */
export function isEmptyRbac(o: RbacObjects): boolean {
  return !o.roles.length && !o.clusterRoles.length && !o.roleBindings.length && !o.clusterRoleBindings.length;
}

export { riskCount };

/** The analysis in the shape shared by the IAM analysers (src/identity/iam/types.ts). */
export function toPrincipalAnalysis(a: K8sPrincipalAnalysis): PrincipalAnalysis {
  const { wildcard: wildBefore, ...before } = a.risk.before;
  const { wildcard: wildAfter, ...after } = a.risk.after;
  const resourceOf = (r: RbacRequest) =>
    r.resourceRequest ? `${r.namespace || "*"}/${r.name || "*"}` : r.path;
  const permissionOf = (r: RbacRequest) =>
    r.resourceRequest
      ? `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""}${r.apiGroup ? `.${r.apiGroup}` : ""}`
      : `${r.verb} ${r.path}`;
  const usedBy = new Map<string, UsedPermission>();
  const deniedBy = new Map<string, DeniedAttempt>();
  for (const u of a.used) {
    const permission = permissionOf(u.request);
    if (u.allowed > 0) {
      const p = usedBy.get(permission) ?? {
        permission,
        count: 0,
        firstSeen: u.first,
        lastSeen: u.last,
        resources: [],
        resourcesComplete: true,
      };
      p.count += u.allowed;
      if (u.first < p.firstSeen) p.firstSeen = u.first;
      if (u.last > p.lastSeen) p.lastSeen = u.last;
      if (!p.resources.includes(resourceOf(u.request))) p.resources.push(resourceOf(u.request));
      usedBy.set(permission, p);
    } else {
      const d = deniedBy.get(permission) ?? { permission, count: 0, lastSeen: u.last, resources: [] };
      d.count += u.denied;
      if (u.last > d.lastSeen) d.lastSeen = u.last;
      if (!d.resources.includes(resourceOf(u.request))) d.resources.push(resourceOf(u.request));
      deniedBy.set(permission, d);
    }
  }
  const byName = <T extends { permission: string }>(xs: Iterable<T>) =>
    [...xs].sort((x, y) => (x.permission < y.permission ? -1 : x.permission > y.permission ? 1 : 0));
  return {
    principal: a.principal,
    platform: "k8s",
    window: a.window,
    used: byName(usedBy.values()),
    unused: a.unused.map((r) => `${ruleText(r)} (${r.source})`).sort(),
    usedNotGranted: a.used
      .filter((u) => u.allowed > 0 && u.grantedBy.length === 0)
      .map((u) => u.permission)
      .sort(),
    denied: byName(deniedBy.values()),
    proposed: a.proposed,
    original: a.rollback,
    diff: { removed: a.diff.removed, kept: a.diff.kept },
    effective: a.effective,
    reductionPercent: a.reduction === undefined ? 0 : Math.round(a.reduction * 1000) / 10,
    risk: { before, after },
    verification: {
      proposed: {
        replayed: a.verification.replayed,
        allowed: a.verification.allowed,
        denied: a.verification.denied.map((permission) => ({
          permission,
          reason: "no proposed rule allows it",
        })),
      },
    },
    notes: [
      ...wildBefore.map((w) => `wildcard before: ${w}`),
      ...wildAfter.map((w) => `wildcard after: ${w}`),
      ...a.widened.map((w) => `widened: ${w}`),
      ...a.sharedGrants.map((g) => `granted through a group (shared, not replaced): ${g}`),
      ...a.verification.beyondCurrent.map((b) => `beyond current grants: ${b}`),
      ...(a.coveredByBaseline
        ? [`${a.coveredByBaseline} request(s) covered by the default discovery grants`]
        : []),
    ],
  };
}
