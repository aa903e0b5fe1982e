// kube-score compatibility (`--profile kube-score`): kube-score's grading for the checks both tools
// have, reported under Rampart's rule ids. Differences from Rampart's defaults: UID and GID must be
// > 10000 and set, probes only matter for pods a Service targets (one probe of each kind per pod),
// pull policy must be Always unless the tag is mutable, requests-equal-limits and seccomp are
// optional checks (enabled by option or the `kube-score/enable` annotation).
import type { ScanSeverity } from "../../types.ts";
import type { K8sRuleId } from "../cis.ts";
import type { CheckContext, ContainerRef, PodWorkload } from "./context.ts";
import { containersOf, getIn, isObj, mapSelectorMatches, obj, quantity, str } from "./context.ts";

/** kube-score check name → its id (for `kube-score/enable|ignore`) and the Rampart rules it maps to. */
export const kubeScoreMapping: Record<string, { id: string; rules: K8sRuleId[]; optional?: boolean }> = {
  "Container Resources": { id: "container-resources", rules: ["K8S-LIMITS-MISSING", "K8S-REQUESTS-MISSING"] },
  "Container Memory Requests Equal Limits": {
    id: "container-memory-requests-equal-limits",
    rules: ["K8S-MEMORY-REQUESTS-EQUAL-LIMITS"],
    optional: true,
  },
  "Container CPU Requests Equal Limits": {
    id: "container-cpu-requests-equal-limits",
    rules: ["K8S-CPU-REQUESTS-EQUAL-LIMITS"],
    optional: true,
  },
  "Container Resource Requests Equal Limits": {
    id: "container-resource-requests-equal-limits",
    rules: ["K8S-MEMORY-REQUESTS-EQUAL-LIMITS", "K8S-CPU-REQUESTS-EQUAL-LIMITS"],
    optional: true,
  },
  "Container Image Tag": { id: "container-image-tag", rules: ["K8S-IMAGE-TAG"] },
  "Container Image Pull Policy": { id: "container-image-pull-policy", rules: ["K8S-IMAGE-PULL-POLICY"] },
  "Pod Probes": {
    id: "pod-probes",
    rules: ["K8S-READINESS-PROBE", "K8S-LIVENESS-PROBE", "K8S-PROBES-IDENTICAL"],
  },
  "Container Security Context User Group ID": {
    id: "container-security-context-user-group-id",
    rules: ["K8S-LOW-UID"],
  },
  "Container Security Context Privileged": {
    id: "container-security-context-privileged",
    rules: ["K8S-PRIVILEGED"],
  },
  "Container Security Context ReadOnlyRootFilesystem": {
    id: "container-security-context-readonlyrootfilesystem",
    rules: ["K8S-RO-ROOTFS"],
  },
  "Container Seccomp Profile": { id: "container-seccomp-profile", rules: ["K8S-SECCOMP"], optional: true },
  "Pod NetworkPolicy": { id: "pod-networkpolicy", rules: ["K8S-NETPOL-POD-UNCOVERED"] },
  "NetworkPolicy targets Pod": { id: "networkpolicy-targets-pod", rules: ["K8S-NETPOL-NO-TARGET"] },
};

/** kube-score grade a finding's severity stands for: high = Critical, medium = Warning, low = AlmostOK. */
export function kubeScoreGrade(
  s: ScanSeverity | undefined,
): "GradeCritical" | "GradeWarning" | "GradeAlmostOK" | "GradeAllOK" {
  if (s === undefined) return "GradeAllOK";
  if (s === "high" || s === "critical") return "GradeCritical";
  if (s === "medium") return "GradeWarning";
  return "GradeAlmostOK";
}

/** Rules whose semantics the kube-score profile replaces. */
export const kubeScoreRules: ReadonlySet<K8sRuleId> = new Set(
  Object.values(kubeScoreMapping).flatMap((m) => m.rules),
);

const annotationList = (v: string | undefined) =>
  (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** kube-score's naive tag: the text after the last ':' (so a registry port reads as a tag). */
const kubeScoreTag = (image: string) => {
  const parts = image.split(":");
  return parts.length > 1 ? (parts[parts.length - 1] ?? "") : "";
};

function enabled(ctx: CheckContext, w: PodWorkload, id: string, optional: boolean): boolean {
  const ignore = annotationList(w.annotations["kube-score/ignore"]);
  if (ignore.includes(id)) return false;
  if (!optional) return true;
  const on = new Set([
    ...(ctx.options.kubeScore?.enabledOptional ?? []),
    ...annotationList(w.annotations["kube-score/enable"]),
  ]);
  if (on.has(id)) return true;
  // The combined check turns on both halves, as kube-score does.
  return (
    (id === "container-memory-requests-equal-limits" || id === "container-cpu-requests-equal-limits") &&
    on.has("container-resource-requests-equal-limits")
  );
}

const high: ScanSeverity = "high";
const medium: ScanSeverity = "medium";

function sameProbe(r: unknown, l: unknown): boolean {
  const rp = obj(r);
  const lp = obj(l);
  if (isObj(rp.httpGet) && isObj(lp.httpGet)) {
    return rp.httpGet.path === lp.httpGet.path && String(rp.httpGet.port) === String(lp.httpGet.port);
  }
  if (isObj(rp.tcpSocket) && isObj(lp.tcpSocket))
    return String(rp.tcpSocket.port) === String(lp.tcpSocket.port);
  if (isObj(rp.exec) && isObj(lp.exec))
    return JSON.stringify(rp.exec.command ?? []) === JSON.stringify(lp.exec.command ?? []);
  return false;
}

/** kube-score's pod checks for one workload, reported under Rampart rule ids. */
export function kubeScorePodChecks(ctx: CheckContext, w: PodWorkload): void {
  const { res } = w;
  const containers = containersOf(w);
  const ks = ctx.options.kubeScore ?? {};
  const psc = isObj(w.spec.securityContext) ? w.spec.securityContext : undefined;
  const on = (name: string) => {
    const m = kubeScoreMapping[name];
    return m ? enabled(ctx, w, m.id, m.optional === true) : false;
  };
  const each = (f: (c: ContainerRef) => void) => containers.forEach(f);

  if (on("Container Resources")) {
    each((c) => {
      const r = obj(c.c.resources);
      const limits = obj(r.limits);
      const requests = obj(r.requests);
      const noLimit = [
        ...(!ks.ignoreContainerCpuLimit && !quantity(limits.cpu) ? ["cpu"] : []),
        ...(!ks.ignoreContainerMemoryLimit && !quantity(limits.memory) ? ["memory"] : []),
      ];
      const noRequest = ["cpu", "memory"].filter((k) => !quantity(requests[k]));
      if (noLimit.length)
        ctx.hit({
          rule: "K8S-LIMITS-MISSING",
          res,
          path: [...c.path, "resources", "limits"],
          severity: high,
          details: { container: c.name, missing: noLimit.join(",") },
        });
      if (noRequest.length)
        ctx.hit({
          rule: "K8S-REQUESTS-MISSING",
          res,
          path: [...c.path, "resources", "requests"],
          severity: medium,
          details: { container: c.name, missing: noRequest.join(",") },
        });
    });
  }
  for (const [name, key, rule] of [
    ["Container Memory Requests Equal Limits", "memory", "K8S-MEMORY-REQUESTS-EQUAL-LIMITS"],
    ["Container CPU Requests Equal Limits", "cpu", "K8S-CPU-REQUESTS-EQUAL-LIMITS"],
  ] as const) {
    if (!on(name)) continue;
    each((c) => {
      const r = obj(c.c.resources);
      if ((quantity(obj(r.requests)[key]) ?? 0) !== (quantity(obj(r.limits)[key]) ?? 0)) {
        ctx.hit({
          rule,
          res,
          path: [...c.path, "resources"],
          severity: high,
          details: { container: c.name },
        });
      }
    });
  }
  if (on("Container Image Tag")) {
    each((c) => {
      const tag = kubeScoreTag(str(c.c.image) ?? "");
      if (tag === "" || tag === "latest")
        ctx.hit({
          rule: "K8S-IMAGE-TAG",
          res,
          path: [...c.path, "image"],
          severity: high,
          details: { container: c.name },
        });
    });
  }
  if (on("Container Image Pull Policy")) {
    each((c) => {
      const policy = str(c.c.imagePullPolicy) ?? "";
      const tag = kubeScoreTag(str(c.c.image) ?? "");
      // Unset means Always for :latest or no tag (Kubernetes' default), IfNotPresent otherwise.
      const bad = policy === "" ? tag !== "" && tag !== "latest" : policy !== "Always";
      if (bad)
        ctx.hit({
          rule: "K8S-IMAGE-PULL-POLICY",
          res,
          path: [...c.path, "imagePullPolicy"],
          severity: high,
          details: { container: c.name },
        });
    });
  }
  if (on("Pod Probes") && !w.runsToCompletion) {
    const targeted = ctx.resources.some(
      (s) =>
        s.kind === "Service" &&
        s.namespace === w.namespace &&
        mapSelectorMatches(getIn(s.obj, ["spec", "selector"]), w.labels),
    );
    const ready = containers.some((c) => c.c.readinessProbe !== undefined && c.c.readinessProbe !== null);
    const live = containers.some((c) => c.c.livenessProbe !== undefined && c.c.livenessProbe !== null);
    const same = containers.find(
      (c) => c.c.readinessProbe && c.c.livenessProbe && sameProbe(c.c.readinessProbe, c.c.livenessProbe),
    );
    const first = containers.find((c) => !c.init) ?? containers[0];
    if (same)
      ctx.hit({ rule: "K8S-PROBES-IDENTICAL", res, path: [...same.path, "livenessProbe"], severity: high });
    else if (targeted && first && !ready)
      ctx.hit({ rule: "K8S-READINESS-PROBE", res, path: [...first.path, "readinessProbe"], severity: high });
    else if (targeted && first && !live)
      ctx.hit({ rule: "K8S-LIVENESS-PROBE", res, path: [...first.path, "livenessProbe"], severity: "low" });
  }
  const scChecks = {
    uid: on("Container Security Context User Group ID"),
    priv: on("Container Security Context Privileged"),
    ro: on("Container Security Context ReadOnlyRootFilesystem"),
  };
  each((c) => {
    const own = isObj(c.c.securityContext) ? c.c.securityContext : undefined;
    const scPath = [...c.path, "securityContext"];
    if (!own && !psc) {
      if (scChecks.uid)
        ctx.hit({
          rule: "K8S-LOW-UID",
          res,
          path: c.path,
          severity: high,
          title: "Container has no security context (UID and GID unset)",
          details: { container: c.name },
        });
      if (scChecks.ro)
        ctx.hit({ rule: "K8S-RO-ROOTFS", res, path: c.path, severity: high, details: { container: c.name } });
      return;
    }
    const sc = own ?? {};
    const uid = sc.runAsUser ?? psc?.runAsUser;
    const gid = sc.runAsGroup ?? psc?.runAsGroup;
    if (scChecks.uid && (typeof uid !== "number" || uid < 10000 || typeof gid !== "number" || gid < 10000)) {
      ctx.hit({
        rule: "K8S-LOW-UID",
        res,
        path: [...scPath, typeof uid !== "number" || uid < 10000 ? "runAsUser" : "runAsGroup"],
        severity: high,
        details: { container: c.name },
      });
    }
    if (scChecks.priv && sc.privileged === true)
      ctx.hit({
        rule: "K8S-PRIVILEGED",
        res,
        path: [...scPath, "privileged"],
        severity: high,
        details: { container: c.name },
      });
    if (scChecks.ro && sc.readOnlyRootFilesystem !== true)
      ctx.hit({
        rule: "K8S-RO-ROOTFS",
        res,
        path: [...scPath, "readOnlyRootFilesystem"],
        severity: high,
        details: { container: c.name },
      });
  });
  if (on("Container Seccomp Profile")) {
    const podOk =
      w.annotations["seccomp.security.alpha.kubernetes.io/defaultProfileName"] !== undefined ||
      isObj(psc?.seccompProfile);
    if (!podOk) {
      each((c) => {
        if (!isObj(getIn(c.c, ["securityContext", "seccompProfile"]))) {
          ctx.hit({
            rule: "K8S-SECCOMP",
            res,
            path: [...c.path, "securityContext", "seccompProfile"],
            severity: medium,
            details: { container: c.name },
          });
        }
      });
    }
  }
}
