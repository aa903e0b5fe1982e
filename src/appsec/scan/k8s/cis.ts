// The check catalogue: every K8S-… rule with its default severity, what to change, and the CIS
// Kubernetes Benchmark recommendations it evidences (ids only; numbering of benchmark v1.8/v1.9).
import type { ScanSeverity } from "../types.ts";

export interface K8sRule {
  severity: ScanSeverity;
  title: string;
  fix: string;
  cis?: string[];
}

export const k8sRules = {
  "K8S-PRIVILEGED": {
    severity: "critical",
    title: "Container runs privileged",
    fix: "Set securityContext.privileged: false (or remove it).",
    cis: ["5.2.2"],
  },
  "K8S-PRIV-ESCALATION": {
    severity: "medium",
    title: "Container may gain more privileges than its parent process",
    fix: "Set securityContext.allowPrivilegeEscalation: false.",
    cis: ["5.2.6"],
  },
  "K8S-RUN-AS-ROOT": {
    severity: "high",
    title: "Container runs as root (runAsUser: 0)",
    fix: "Run as a non-root UID: set runAsUser to a UID > 10000 and runAsNonRoot: true.",
    cis: ["5.2.7"],
  },
  "K8S-RUN-AS-NON-ROOT": {
    severity: "medium",
    title: "Container may run as root: runAsNonRoot is not true and no runAsUser is set",
    fix: "Set securityContext.runAsNonRoot: true (pod or container) and a runAsUser > 10000.",
    cis: ["5.2.7"],
  },
  "K8S-LOW-UID": {
    severity: "low",
    title: "Container runs with a low UID or GID (< 10000) that may collide with host users",
    fix: "Set securityContext.runAsUser and runAsGroup to values > 10000.",
  },
  "K8S-CAP-DROP-ALL": {
    severity: "medium",
    title: "Container does not drop all Linux capabilities",
    fix: "Set securityContext.capabilities.drop: [ALL] and add back only what is needed.",
    cis: ["5.2.10"],
  },
  "K8S-CAP-DANGEROUS": {
    severity: "high",
    title: "Container adds a dangerous Linux capability",
    fix: "Remove the capability from securityContext.capabilities.add.",
    cis: ["5.2.8", "5.2.9"],
  },
  "K8S-CAP-ADDED": {
    severity: "low",
    title: "Container adds a Linux capability",
    fix: "Add only capabilities the workload needs (NET_BIND_SERVICE is usually the only one).",
    cis: ["5.2.9"],
  },
  "K8S-RO-ROOTFS": {
    severity: "medium",
    title: "Container root filesystem is writable",
    fix: "Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where writes are needed.",
    cis: ["5.7.3"],
  },
  "K8S-SECCOMP": {
    severity: "medium",
    title: "No seccomp profile (RuntimeDefault or Localhost)",
    fix: "Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or each container).",
    cis: ["5.7.2"],
  },
  "K8S-APPARMOR": {
    severity: "medium",
    title: "AppArmor is explicitly unconfined",
    fix: "Use securityContext.appArmorProfile.type: RuntimeDefault (or a Localhost profile).",
    cis: ["5.7.3"],
  },
  "K8S-LIMITS-MISSING": {
    severity: "medium",
    title: "Container has no CPU or memory limit",
    fix: "Set resources.limits.cpu and resources.limits.memory.",
  },
  "K8S-REQUESTS-MISSING": {
    severity: "low",
    title: "Container has no CPU or memory request",
    fix: "Set resources.requests.cpu and resources.requests.memory.",
  },
  "K8S-EPHEMERAL-STORAGE": {
    severity: "low",
    title: "Container has no ephemeral-storage request or limit",
    fix: "Set resources.requests and resources.limits for ephemeral-storage.",
  },
  "K8S-MEMORY-REQUESTS-EQUAL-LIMITS": {
    severity: "low",
    title: "Container memory request differs from its limit",
    fix: "Set resources.requests.memory equal to resources.limits.memory.",
  },
  "K8S-CPU-REQUESTS-EQUAL-LIMITS": {
    severity: "low",
    title: "Container CPU request differs from its limit",
    fix: "Set resources.requests.cpu equal to resources.limits.cpu.",
  },
  "K8S-IMAGE-TAG": {
    severity: "medium",
    title: "Image uses the :latest tag or no tag",
    fix: "Pin a fixed version tag, better a digest (image@sha256:…).",
  },
  "K8S-IMAGE-DIGEST": {
    severity: "low",
    title: "Image is not pinned by digest",
    fix: "Reference the image by digest (image:tag@sha256:…) so the bytes you scanned are the bytes you run.",
  },
  "K8S-IMAGE-PULL-POLICY": {
    severity: "low",
    title: "Image pull policy can run a stale or unverified image",
    fix: "Set imagePullPolicy: Always, or pin the image by digest.",
  },
  "K8S-HOST-NETWORK": {
    severity: "high",
    title: "Pod shares the host network namespace",
    fix: "Remove hostNetwork: true.",
    cis: ["5.2.5"],
  },
  "K8S-HOST-PID": {
    severity: "high",
    title: "Pod shares the host PID namespace",
    fix: "Remove hostPID: true.",
    cis: ["5.2.3"],
  },
  "K8S-HOST-IPC": {
    severity: "high",
    title: "Pod shares the host IPC namespace",
    fix: "Remove hostIPC: true.",
    cis: ["5.2.4"],
  },
  "K8S-HOSTPATH": {
    severity: "high",
    title: "Pod mounts a hostPath volume",
    fix: "Use a persistentVolumeClaim, configMap, secret or emptyDir volume instead of hostPath.",
    cis: ["5.2.12"],
  },
  "K8S-HOST-PORT": {
    severity: "medium",
    title: "Container binds a host port",
    fix: "Remove hostPort; expose the port through a Service.",
    cis: ["5.2.13"],
  },
  "K8S-READINESS-PROBE": {
    severity: "low",
    title: "Container has no readinessProbe",
    fix: "Add a readinessProbe so traffic reaches the pod only when it is ready.",
  },
  "K8S-LIVENESS-PROBE": {
    severity: "low",
    title: "Container has no livenessProbe",
    fix: "Add a livenessProbe (different from the readinessProbe) if the app can deadlock.",
  },
  "K8S-PROBES-IDENTICAL": {
    severity: "medium",
    title: "Readiness and liveness probes are identical",
    fix: "Use a different check for liveness than for readiness, or drop the livenessProbe.",
  },
  "K8S-SA-TOKEN-AUTOMOUNT": {
    severity: "low",
    title: "Service account token is mounted automatically",
    fix: "Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls the API.",
    cis: ["5.1.6"],
  },
  "K8S-SECRET-IN-ENV": {
    severity: "high",
    title: "Secret-like value written in plain text in an environment variable",
    fix: "Move the value into a Secret and mount it as a file (or use env.valueFrom.secretKeyRef).",
    cis: ["5.4.1"],
  },
  "K8S-SECRET-ENV-REF": {
    severity: "low",
    title: "Secret exposed through an environment variable",
    fix: "Mount the Secret as a file; environment variables leak into logs, crash dumps and child processes.",
    cis: ["5.4.1"],
  },
  "K8S-RBAC-WILDCARD": {
    severity: "high",
    title: "RBAC rule uses a wildcard",
    fix: "List the apiGroups, resources and verbs the subject needs instead of '*'.",
    cis: ["5.1.3"],
  },
  "K8S-RBAC-CLUSTER-ADMIN": {
    severity: "high",
    title: "Binding grants cluster-admin",
    fix: "Bind a role with only the permissions the subject needs.",
    cis: ["5.1.1"],
  },
  "K8S-RBAC-SYSTEM-MASTERS": {
    severity: "high",
    title: "Binding names the system:masters group",
    fix: "Do not bind to system:masters; its members bypass RBAC.",
    cis: ["5.1.7"],
  },
  "K8S-RBAC-POD-EXEC": {
    severity: "high",
    title: "RBAC rule allows exec, attach or port-forward into pods",
    fix: "Grant pods/exec, pods/attach and pods/portforward only to break-glass roles (JIT).",
  },
  "K8S-RBAC-SECRETS": {
    severity: "high",
    title: "RBAC rule allows reading Secrets",
    fix: "Limit get/list/watch on secrets to named resourceNames, or remove it.",
    cis: ["5.1.2"],
  },
  "K8S-RBAC-ESCALATE": {
    severity: "high",
    title: "RBAC rule allows escalate, bind or impersonate",
    fix: "Remove the escalate, bind and impersonate verbs.",
    cis: ["5.1.8"],
  },
  "K8S-RBAC-CREATE-PODS": {
    severity: "medium",
    title: "RBAC rule allows creating pods",
    fix: "Let controllers create pods; give people and apps create on workloads only where needed.",
    cis: ["5.1.4"],
  },
  "K8S-NETPOL-DEFAULT-DENY": {
    severity: "medium",
    title: "Namespace has workloads but no default-deny NetworkPolicy",
    fix: "Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress] and no rules, then allow what is needed.",
    cis: ["5.3.2"],
  },
  "K8S-NETPOL-POD-UNCOVERED": {
    severity: "medium",
    title: "Pod is not selected by any NetworkPolicy",
    fix: "Select the pod with an ingress and an egress NetworkPolicy (or a namespace default deny).",
    cis: ["5.3.2"],
  },
  "K8S-NETPOL-NO-TARGET": {
    severity: "low",
    title: "NetworkPolicy selects no pod among the scanned manifests",
    fix: "Check the podSelector labels against the workloads' pod template labels.",
  },
} as const satisfies Record<string, K8sRule>;

export type K8sRuleId = keyof typeof k8sRules;

/** `CIS-5.2.2`-style references for a rule. */
export function cisReferences(rule: K8sRuleId): string[] | undefined {
  const r: K8sRule = k8sRules[rule];
  return r.cis?.map((c) => `CIS-${c}`);
}
