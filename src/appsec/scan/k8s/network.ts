// NetworkPolicy coverage: each namespace with workloads needs a default deny (podSelector {} with
// Ingress and Egress and no rules), each pod should be selected by an ingress and an egress policy,
// and a policy that selects no pod is probably a label typo.
import type { CheckContext, Resource } from "./checks/context.ts";
import { isObj, list, obj, selectorMatches } from "./checks/context.ts";

interface Policy {
  res: Resource;
  selector: unknown;
  ingress: boolean;
  egress: boolean;
  selectsAll: boolean;
  denyIngress: boolean;
  denyEgress: boolean;
}

function policiesOf(ctx: CheckContext): Policy[] {
  return ctx.resources
    .filter((r) => r.kind === "NetworkPolicy" && r.apiVersion.startsWith("networking.k8s.io/"))
    .map((res) => {
      const spec = obj(res.obj.spec);
      const declared = list(spec.policyTypes).map(String);
      // Kubernetes defaults: Ingress always, Egress only when egress rules are present.
      const types = declared.length
        ? declared
        : ["Ingress", ...(spec.egress !== undefined ? ["Egress"] : [])];
      const sel = spec.podSelector;
      const selectsAll =
        isObj(sel) &&
        Object.keys(sel).every((k) => {
          const v = sel[k];
          const empty = v === null || (Array.isArray(v) ? v.length === 0 : Object.keys(obj(v)).length === 0);
          return (k === "matchLabels" || k === "matchExpressions") && empty;
        });
      const ingress = types.includes("Ingress");
      const egress = types.includes("Egress");
      return {
        res,
        selector: sel,
        ingress,
        egress,
        selectsAll,
        denyIngress: selectsAll && ingress && list(spec.ingress).length === 0,
        denyEgress: selectsAll && egress && list(spec.egress).length === 0,
      };
    });
}

/** Runs the NetworkPolicy coverage checks. `kubeScore` grades pods the way kube-score does. */
export function networkChecks(ctx: CheckContext, kubeScore = false): void {
  const policies = policiesOf(ctx);
  // Indexed by namespace: a cluster's worth of manifests must not cost workloads × policies.
  const workloadsByNs = groupBy(ctx.workloads, (w) => w.namespace);
  const policiesByNs = groupBy(policies, (p) => p.res.namespace);
  const namespaces = new Map(ctx.resources.filter((r) => r.kind === "Namespace").map((r) => [r.name, r]));

  for (const [ns, ws] of workloadsByNs) {
    const inNs = policiesByNs.get(ns) ?? [];
    const denyIn = inNs.some((p) => p.denyIngress);
    const denyOut = inNs.some((p) => p.denyEgress);
    const first = ws[0];
    if ((denyIn && denyOut) || !first) continue;
    const nsObj = namespaces.get(ns);
    const missing = [...(denyIn ? [] : ["ingress"]), ...(denyOut ? [] : ["egress"])];
    ctx.hit({
      rule: "K8S-NETPOL-DEFAULT-DENY",
      res: nsObj ?? { ...first.res, id: `Namespace//${ns}` },
      path: nsObj ? [] : ["metadata"],
      title: `Namespace ${ns || "(unset)"} has workloads but no default-deny ${missing.join(" and ")} NetworkPolicy`,
      ...(denyIn ? { severity: "low" as const } : {}),
      details: { namespace: ns, missing: missing.join(",") },
    });
  }

  for (const w of ctx.workloads) {
    let ingress = false;
    let egress = false;
    for (const p of policiesByNs.get(w.namespace) ?? []) {
      if (!selectorMatches(p.selector, w.labels)) continue;
      ingress ||= p.ingress;
      egress ||= p.egress;
    }
    if (ingress && egress) continue;
    const missing = [...(ingress ? [] : ["ingress"]), ...(egress ? [] : ["egress"])];
    const none = !ingress && !egress;
    ctx.hit({
      rule: "K8S-NETPOL-POD-UNCOVERED",
      res: w.res,
      path:
        w.res.kind === "Pod" ? ["metadata", "labels"] : [...w.specPath.slice(0, -1), "metadata", "labels"],
      title: none
        ? "Pod is not selected by any NetworkPolicy"
        : `Pod is not selected by any ${missing[0]} NetworkPolicy`,
      severity: kubeScore ? (none ? "high" : "medium") : ingress ? "low" : "medium",
      details: { missing: missing.join(",") },
    });
  }

  for (const p of policies) {
    const hit = (workloadsByNs.get(p.res.namespace) ?? []).some((w) => selectorMatches(p.selector, w.labels));
    if (hit) continue;
    ctx.hit({
      rule: "K8S-NETPOL-NO-TARGET",
      res: p.res,
      path: ["spec", "podSelector"],
      ...(kubeScore ? { severity: "high" as const } : {}),
      details: { selector: JSON.stringify(p.selector ?? null).slice(0, 200), namespace: p.res.namespace },
    });
  }
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const group = out.get(k);
    if (group) group.push(t);
    else out.set(k, [t]);
  }
  return out;
}
