// Risk flags of RBAC grants: what a holder could do beyond its job. Each probe is a request the
// authorizer would allow; a rule restricted to resourceNames still counts (it grants that object).
import type { EffectiveRule, PolicyRule, RbacRequest } from "./rbac.ts";
import { ruleAllows } from "./rbac.ts";

/** Findings per risk class; each entry reads like `get secrets -n ns1 (RoleBinding ns1/x → Role y)`. */
export interface K8sRiskFlags {
  privesc: string[];
  dataAccess: string[];
  credentialsExposure: string[];
  resourceExposure: string[];
  wildcard: string[];
}

type Risk = Exclude<keyof K8sRiskFlags, "wildcard">;

interface Probe {
  verbs: string[];
  apiGroup: string;
  resource: string;
  subresource?: string;
  risks: Risk[];
  why: string;
}

const workloads: [string, string][] = [
  ["", "pods"],
  ["", "replicationcontrollers"],
  ["apps", "deployments"],
  ["apps", "daemonsets"],
  ["apps", "statefulsets"],
  ["apps", "replicasets"],
  ["batch", "jobs"],
  ["batch", "cronjobs"],
];

const PROBES: Probe[] = [
  {
    verbs: ["get", "list", "watch"],
    apiGroup: "",
    resource: "secrets",
    risks: ["dataAccess", "credentialsExposure"],
    why: "reads secrets",
  },
  {
    verbs: ["escalate", "bind"],
    apiGroup: "rbac.authorization.k8s.io",
    resource: "roles",
    risks: ["privesc"],
    why: "escalate/bind roles",
  },
  {
    verbs: ["escalate", "bind"],
    apiGroup: "rbac.authorization.k8s.io",
    resource: "clusterroles",
    risks: ["privesc"],
    why: "escalate/bind cluster roles",
  },
  ...["users", "groups", "serviceaccounts"].map((resource) => ({
    verbs: ["impersonate"],
    apiGroup: "",
    resource,
    risks: ["privesc"] as Risk[],
    why: `impersonates ${resource}`,
  })),
  {
    verbs: ["impersonate"],
    apiGroup: "authentication.k8s.io",
    resource: "uids",
    risks: ["privesc"],
    why: "impersonates uids",
  },
  {
    verbs: ["create", "get"],
    apiGroup: "",
    resource: "pods",
    subresource: "exec",
    risks: ["privesc", "dataAccess"],
    why: "exec into pods",
  },
  {
    verbs: ["create", "get"],
    apiGroup: "",
    resource: "pods",
    subresource: "attach",
    risks: ["privesc", "dataAccess"],
    why: "attach to pods",
  },
  {
    verbs: ["get", "create"],
    apiGroup: "",
    resource: "nodes",
    subresource: "proxy",
    risks: ["privesc"],
    why: "kubelet API via nodes/proxy",
  },
  ...workloads.map(([apiGroup, resource]) => ({
    verbs: ["create"],
    apiGroup,
    resource,
    risks: ["privesc"] as Risk[],
    why: `creates ${resource} (runs a pod with any service account or host access)`,
  })),
  {
    verbs: ["create"],
    apiGroup: "",
    resource: "serviceaccounts",
    subresource: "token",
    risks: ["credentialsExposure"],
    why: "mints service-account tokens",
  },
  ...["mutatingwebhookconfigurations", "validatingwebhookconfigurations"].map((resource) => ({
    verbs: ["create", "update", "patch"],
    apiGroup: "admissionregistration.k8s.io",
    resource,
    risks: ["privesc"] as Risk[],
    why: `writes ${resource}`,
  })),
  {
    verbs: ["update", "patch"],
    apiGroup: "certificates.k8s.io",
    resource: "certificatesigningrequests",
    subresource: "approval",
    risks: ["privesc"],
    why: "approves CSRs",
  },
  ...[
    ["", "services"],
    ["networking.k8s.io", "ingresses"],
  ].map(([apiGroup, resource]) => ({
    verbs: ["create", "update", "patch"],
    apiGroup: apiGroup as string,
    resource: resource as string,
    risks: ["resourceExposure"] as Risk[],
    why: `exposes workloads via ${resource}`,
  })),
  {
    verbs: ["delete", "update", "patch"],
    apiGroup: "networking.k8s.io",
    resource: "networkpolicies",
    risks: ["resourceExposure"],
    why: "removes network isolation",
  },
];

/** Where an effective rule comes from, for findings. */
export function ruleSource(e: EffectiveRule): string {
  const b = e.binding.namespace ? `${e.binding.namespace}/${e.binding.name}` : e.binding.name;
  const via =
    e.via.kind === "User"
      ? ""
      : ` via ${e.via.kind} ${e.via.namespace ? `${e.via.namespace}:` : ""}${e.via.name}`;
  return `${e.binding.kind} ${b} → ${e.role.kind} ${e.role.name}${via}`;
}

function wildcards(rule: PolicyRule): string[] {
  const out: string[] = [];
  if (rule.verbs.includes("*")) out.push("verbs");
  if (rule.apiGroups?.includes("*")) out.push("apiGroups");
  if (rule.resources?.some((r) => r === "*" || r.startsWith("*/"))) out.push("resources");
  if (rule.nonResourceURLs?.some((u) => u.endsWith("*"))) out.push("nonResourceURLs");
  return out;
}

/** Risk flags of a set of effective rules. */
export function riskFlags(rules: readonly EffectiveRule[]): K8sRiskFlags {
  const flags: K8sRiskFlags = {
    privesc: [],
    dataAccess: [],
    credentialsExposure: [],
    resourceExposure: [],
    wildcard: [],
  };
  const add = (k: keyof K8sRiskFlags, s: string) => {
    if (!flags[k].includes(s)) flags[k].push(s);
  };
  for (const e of rules) {
    const scope = e.namespace ? `-n ${e.namespace}` : "cluster-wide";
    const src = ruleSource(e);
    const w = wildcards(e.rule);
    if (w.length) add("wildcard", `'*' in ${w.join(", ")} ${scope} (${src})`);
    for (const p of PROBES) {
      for (const verb of p.verbs) {
        const req: RbacRequest = {
          user: "",
          groups: [],
          verb,
          resourceRequest: true,
          apiGroup: p.apiGroup,
          resource: p.resource,
          subresource: p.subresource ?? "",
          namespace: e.namespace,
          name: e.rule.resourceNames?.[0] ?? "",
          path: "",
        };
        if (!ruleAllows(e.rule, req)) continue;
        const what = `${verb} ${p.resource}${p.subresource ? `/${p.subresource}` : ""} ${scope}: ${p.why} (${src})`;
        for (const r of p.risks) add(r, what);
      }
    }
  }
  return flags;
}

/** Number of findings across all classes. */
export function riskCount(f: K8sRiskFlags): number {
  return (
    f.privesc.length +
    f.dataAccess.length +
    f.credentialsExposure.length +
    f.resourceExposure.length +
    f.wildcard.length
  );
}
