// Minimal Role/ClusterRole generation from observed requests, with audit2rbac's semantics (learned
// from its README and behaviour): broader requests first, verb expansion (list→get,watch …), several
// names of one resource collapse to an unnamed rule, a single name stays in resourceNames, rules
// are compacted by API group. With `current`, nothing is proposed that the current grants lack.
import {
  createAuthorizer,
  type EffectiveRule,
  type PolicyRule,
  RBAC_API_VERSION,
  RBAC_GROUP,
  type RbacObjects,
  type RbacRequest,
  rulesFor,
  subjectFor,
} from "./rbac.ts";

/** audit2rbac's default verb expansions: the verbs a client doing X almost always needs too. */
export const AUDIT2RBAC_VERB_EXPANSIONS: Readonly<Record<string, readonly string[]>> = {
  watch: ["get", "list"],
  list: ["get", "watch"],
  update: ["get", "patch"],
  patch: ["get", "update"],
};

export interface GenerateOptions {
  /** Add the verbs of `verbExpansions` to each observed verb (audit2rbac does; default true). */
  expandVerbs: boolean;
  verbExpansions: Readonly<Record<string, readonly string[]>>;
  /** Several names of one resource and verb become one unnamed rule (default true); else resourceNames. */
  expandMultiName: boolean;
  /** The same request in several namespaces becomes cluster-wide (audit2rbac's default; ours: false). */
  expandMultiNamespace: boolean;
  /** Name of the generated objects; default `rampart:<user>`. */
  name?: string;
  labels?: Record<string, string>;
}

export const DEFAULT_GENERATE_OPTIONS: GenerateOptions = {
  expandVerbs: true,
  verbExpansions: AUDIT2RBAC_VERB_EXPANSIONS,
  expandMultiName: true,
  expandMultiNamespace: false,
};

/** What generation produced and what it set aside. */
export interface Generation {
  objects: RbacObjects;
  /** Requests the baseline (discovery) grants already allow. */
  coveredByBaseline: RbacRequest[];
  /** --within-current: requests refused with 403 only; reported, not granted. */
  attemptedDenied: RbacRequest[];
  /** --within-current: requests the log shows allowed that the given RBAC objects do not explain. */
  notInCurrent: RbacRequest[];
  /** Non-resource paths a rule cannot name exactly (a trailing '*' would widen the rule). */
  unrepresentable: RbacRequest[];
  /** Deliberate widening beyond the observed requests (verb expansion, names or namespaces merged). */
  widened: string[];
}

/** An observed request to cover, with whether the API server allowed it at least once. */
export interface RequestToCover {
  request: RbacRequest;
  allowed: boolean;
}

/** A readable form of a request: `list pods -n ns1`, `get /healthz`. */
export function describeRequest(r: RbacRequest): string {
  if (!r.resourceRequest) return `${r.verb} ${r.path}`;
  const res = `${r.resource}${r.subresource ? `/${r.subresource}` : ""}${r.apiGroup ? `.${r.apiGroup}` : ""}`;
  return `${r.verb} ${res}${r.name ? `/${r.name}` : ""}${r.namespace ? ` -n ${r.namespace}` : " (cluster-wide)"}`;
}

/** audit2rbac's request order: non-resource, cluster-scoped, unnamed and list first, so rules for them cover the rest. */
function compareRequests(a: RbacRequest, b: RbacRequest): number {
  if (a.resourceRequest !== b.resourceRequest) return a.resourceRequest ? 1 : -1;
  if (!a.resourceRequest) return a.verb.localeCompare(b.verb) || cmp(a.path, b.path);
  if ((a.namespace === "") !== (b.namespace === "")) return a.namespace === "" ? -1 : 1;
  if ((a.name === "") !== (b.name === "")) return a.name === "" ? -1 : 1;
  if (a.verb === "list" && b.verb === "get") return -1;
  if (a.verb === "get" && b.verb === "list") return 1;
  return (
    cmp(a.apiGroup, b.apiGroup) ||
    cmp(a.resource, b.resource) ||
    cmp(a.subresource, b.subresource) ||
    cmp(a.namespace, b.namespace) ||
    cmp(a.name, b.name) ||
    cmp(a.verb, b.verb)
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort(cmp);

/** An atom of permission: one verb on one resource (or URL) at one scope, for one name or any name. */
export interface PermissionAtom {
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  /** resource or resource/subresource */
  resource: string;
  /** "" = cluster-wide (ClusterRoleBinding). */
  namespace: string;
  /** undefined = any name. */
  name?: string;
  path: string;
}

const has = (list: readonly string[] | undefined, v: string) =>
  !!list && (list.includes("*") || list.includes(v));

/** Whether effective rules grant an atom; "any name" needs a rule without resourceNames. */
export function grantsAtom(rules: readonly EffectiveRule[], a: PermissionAtom): boolean {
  return rules.some((e) => {
    if (a.namespace === "" ? e.namespace !== "" : e.namespace !== "" && e.namespace !== a.namespace)
      return false;
    const r = e.rule;
    if (!has(r.verbs, a.verb)) return false;
    if (!a.resourceRequest) {
      return (r.nonResourceURLs ?? []).some(
        (u) =>
          u === "*" ||
          u === a.path ||
          (u.endsWith("*") && !a.path.endsWith("*") && a.path.startsWith(u.slice(0, -1))),
      );
    }
    if (!has(r.apiGroups, a.apiGroup)) return false;
    const slash = a.resource.indexOf("/");
    const sub = slash >= 0 ? a.resource.slice(slash + 1) : "";
    if (!(r.resources ?? []).some((x) => x === "*" || x === a.resource || (sub !== "" && x === `*/${sub}`)))
      return false;
    const names = r.resourceNames ?? [];
    return names.length === 0 || (a.name !== undefined && names.includes(a.name));
  });
}

/** The atoms a rule grants at a scope ('*' entries stay literal '*'). */
export function ruleAtoms(rule: PolicyRule, namespace: string): PermissionAtom[] {
  const out: PermissionAtom[] = [];
  for (const verb of rule.verbs) {
    for (const path of rule.nonResourceURLs ?? [])
      out.push({ verb, resourceRequest: false, apiGroup: "", resource: "", namespace: "", path });
    for (const apiGroup of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? []) {
        const names = rule.resourceNames?.length ? rule.resourceNames : [undefined];
        for (const name of names)
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
  }
  return out;
}

/** Compacts resource rules: verbs per resource, names merged, then resources merged; sorted by API group. */
export function compactRules(rules: readonly PolicyRule[]): PolicyRule[] {
  // (group, resource) -> name ("" = any) -> verbs
  const atoms = new Map<string, Map<string, Set<string>>>();
  const urls = new Map<string, Set<string>>();
  for (const r of rules) {
    for (const u of r.nonResourceURLs ?? []) {
      const s = urls.get(u) ?? new Set<string>();
      for (const v of r.verbs) s.add(v);
      urls.set(u, s);
    }
    for (const g of r.apiGroups ?? [])
      for (const res of r.resources ?? []) {
        const key = JSON.stringify([g, res]);
        const byName = atoms.get(key) ?? new Map<string, Set<string>>();
        atoms.set(key, byName);
        for (const n of r.resourceNames?.length ? r.resourceNames : [""]) {
          const s = byName.get(n) ?? new Set<string>();
          for (const v of r.verbs) s.add(v);
          byName.set(n, s);
        }
      }
  }
  // (group, resource, verbs) -> names
  const byVerbs = new Map<string, { group: string; resource: string; verbs: string[]; names: string[] }>();
  for (const [key, byName] of atoms) {
    const [group, resource] = JSON.parse(key) as [string, string];
    const any = byName.get("") ?? new Set<string>();
    for (const [name, verbSet] of byName) {
      // An unnamed rule already grants these verbs on every name.
      const verbs = sorted([...verbSet].filter((v) => name === "" || !any.has(v)));
      if (verbs.length === 0) continue;
      const k = JSON.stringify([group, resource, verbs, name === ""]);
      const e = byVerbs.get(k) ?? { group, resource, verbs, names: [] };
      if (name !== "") e.names.push(name);
      byVerbs.set(k, e);
    }
  }
  // (group, verbs, names) -> resources
  const merged = new Map<string, PolicyRule>();
  for (const e of byVerbs.values()) {
    const names = sorted(e.names);
    const k = JSON.stringify([e.group, e.verbs, names]);
    const r = merged.get(k);
    if (r) r.resources = sorted([...(r.resources ?? []), e.resource]);
    else
      merged.set(k, {
        apiGroups: [e.group],
        resources: [e.resource],
        ...(names.length ? { resourceNames: names } : {}),
        verbs: e.verbs,
      });
  }
  const resourceRules = [...merged.values()].sort(
    (a, b) =>
      cmp(a.apiGroups?.join(",") ?? "", b.apiGroups?.join(",") ?? "") ||
      cmp(JSON.stringify(a), JSON.stringify(b)),
  );
  const urlRules = new Map<string, PolicyRule>();
  for (const [u, verbSet] of urls) {
    const verbs = sorted(verbSet);
    const k = verbs.join(",");
    const r = urlRules.get(k);
    if (r) r.nonResourceURLs = sorted([...(r.nonResourceURLs ?? []), u]);
    else urlRules.set(k, { nonResourceURLs: [u], verbs });
  }
  return [
    ...resourceRules,
    ...[...urlRules.values()].sort((a, b) => cmp(JSON.stringify(a), JSON.stringify(b))),
  ];
}

/** Label-safe and name-safe forms of a username, as audit2rbac sanitises them. */
export function sanitizeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9:]/g, "-").toLowerCase();
}
export function sanitizeLabel(s: string): string {
  return s
    .replace(/[^a-zA-Z0-9]/g, "-")
    .toLowerCase()
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
}

/** The default name of generated objects: `rampart:<user>` (`rampart:<sa>` for service accounts). */
export function generatedName(user: string): string {
  const s = subjectFor(user);
  return `rampart:${sanitizeName(s.kind === "ServiceAccount" && s.name !== "default" ? s.name : user)}`;
}

/**
 * Minimal Role/ClusterRole (and bindings) for one principal covering the requests. With `current`
 * (--within-current), 403-only requests and requests the current grants do not allow are reported
 * instead of granted, and every widening is clipped to what the current grants allow.
 */
export function generateRoles(
  user: string,
  groups: readonly string[],
  requests: readonly RequestToCover[],
  options: Partial<GenerateOptions> = {},
  context: { baseline?: RbacObjects; current?: RbacObjects } = {},
): Generation {
  const opts = { ...DEFAULT_GENERATE_OPTIONS, ...options };
  const out: Generation = {
    objects: { roles: [], clusterRoles: [], roleBindings: [], clusterRoleBindings: [] },
    coveredByBaseline: [],
    attemptedDenied: [],
    notInCurrent: [],
    unrepresentable: [],
    widened: [],
  };
  const baselineAllows = context.baseline ? createAuthorizer(context.baseline) : () => false;
  const currentRules = context.current ? rulesFor(context.current, user, groups) : undefined;
  const withinCurrent = (a: PermissionAtom) => !currentRules || grantsAtom(currentRules, a);

  const todo: RbacRequest[] = [];
  for (const { request, allowed } of requests) {
    const r = { ...request, user, groups };
    if (baselineAllows(r)) {
      out.coveredByBaseline.push(r);
      continue;
    }
    if (currentRules) {
      if (!allowed) {
        out.attemptedDenied.push(r);
        continue;
      }
      if (!createAtomCheck(currentRules)(r)) {
        out.notInCurrent.push(r);
        continue;
      }
    }
    if (!r.resourceRequest && (r.path === "" || r.path.endsWith("*"))) {
      out.unrepresentable.push(r);
      continue;
    }
    todo.push(r);
  }
  todo.sort(compareRequests);

  const clusterRules: PolicyRule[] = [];
  const nsRules = new Map<string, PolicyRule[]>();
  const generated = (): EffectiveRule[] => {
    const eff: EffectiveRule[] = [];
    const stub = {
      binding: { kind: "ClusterRoleBinding" as const, name: "" },
      role: { kind: "ClusterRole" as const, name: "" },
      via: subjectFor(user),
    };
    for (const rule of clusterRules) eff.push({ rule, namespace: "", ...stub });
    for (const [ns, rules] of nsRules) for (const rule of rules) eff.push({ rule, namespace: ns, ...stub });
    return eff;
  };

  for (const req of todo) {
    if (createAtomCheck(generated())(req)) continue;
    if (!req.resourceRequest) {
      clusterRules.push({ nonResourceURLs: [req.path], verbs: [req.verb] });
      continue;
    }
    const same = (a: RbacRequest) =>
      a.resourceRequest &&
      a.verb === req.verb &&
      a.apiGroup === req.apiGroup &&
      a.resource === req.resource &&
      a.subresource === req.subresource;
    const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
    const atom = (verb: string, namespace: string, name: string): PermissionAtom => ({
      verb,
      resourceRequest: true,
      apiGroup: req.apiGroup,
      resource,
      namespace,
      path: "",
      ...(name !== "" ? { name } : {}),
    });
    let name = req.name;
    let namespace = req.namespace;
    if (opts.expandMultiName && name !== "") {
      const other = todo.some(
        (a) =>
          same(a) &&
          (opts.expandMultiNamespace || a.namespace === namespace) &&
          a.name !== "" &&
          a.name !== name,
      );
      if (other && withinCurrent(atom(req.verb, namespace, ""))) {
        out.widened.push(`${describeRequest(req)}: several names, granted on every name`);
        name = "";
      }
    }
    if (opts.expandMultiNamespace && namespace !== "") {
      const other = todo.some(
        (a) => same(a) && (name === "" || a.name === name) && a.namespace !== "" && a.namespace !== namespace,
      );
      if (other && withinCurrent(atom(req.verb, "", name))) {
        out.widened.push(`${describeRequest(req)}: several namespaces, granted cluster-wide`);
        namespace = "";
      }
    }
    const verbs = [req.verb];
    if (opts.expandVerbs)
      for (const v of opts.verbExpansions[req.verb] ?? []) {
        if (verbs.includes(v) || !withinCurrent(atom(v, namespace, name))) continue;
        verbs.push(v);
      }
    if (verbs.length > 1) out.widened.push(`${describeRequest(req)}: also ${verbs.slice(1).join(", ")}`);
    const rule: PolicyRule = {
      apiGroups: [req.apiGroup],
      resources: [resource],
      ...(name ? { resourceNames: [name] } : {}),
      verbs,
    };
    if (namespace === "") clusterRules.push(rule);
    else {
      const list = nsRules.get(namespace) ?? [];
      list.push(rule);
      nsRules.set(namespace, list);
    }
  }

  const objName = opts.name ?? generatedName(user);
  const labels = opts.labels ?? { "rampart.dev/generated": "true", "rampart.dev/user": sanitizeLabel(user) };
  const subject = subjectFor(user);
  if (clusterRules.length) {
    out.objects.clusterRoles.push({
      apiVersion: RBAC_API_VERSION,
      kind: "ClusterRole",
      metadata: { name: objName, labels: { ...labels } },
      rules: compactRules(clusterRules),
    });
    out.objects.clusterRoleBindings.push({
      apiVersion: RBAC_API_VERSION,
      kind: "ClusterRoleBinding",
      metadata: { name: objName, labels: { ...labels } },
      roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: objName },
      subjects: [subject],
    });
  }
  for (const ns of [...nsRules.keys()].sort(cmp)) {
    out.objects.roles.push({
      apiVersion: RBAC_API_VERSION,
      kind: "Role",
      metadata: { name: objName, namespace: ns, labels: { ...labels } },
      rules: compactRules(nsRules.get(ns) ?? []),
    });
    out.objects.roleBindings.push({
      apiVersion: RBAC_API_VERSION,
      kind: "RoleBinding",
      metadata: { name: objName, namespace: ns, labels: { ...labels } },
      roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name: objName },
      subjects: [subject],
    });
  }
  return out;
}

/** A request check over effective rules (namespace scope included). */
function createAtomCheck(rules: readonly EffectiveRule[]): (r: RbacRequest) => boolean {
  return (r) =>
    grantsAtom(rules, {
      verb: r.verb,
      resourceRequest: r.resourceRequest,
      apiGroup: r.apiGroup,
      resource: r.subresource ? `${r.resource}/${r.subresource}` : r.resource,
      namespace: r.namespace,
      path: r.path,
      name: r.name,
    });
}
