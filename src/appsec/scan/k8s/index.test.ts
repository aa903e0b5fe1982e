import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { manualClock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import { mapSelectorMatches, quantity, resourcesOf, workloadsOf } from "./checks/context.ts";
import { type K8sRuleId, k8sRules, parseManifests, scanK8s, scanManifests } from "./index.ts";

// A pod that passes every pod check: the base the cases below change one field of.
const goodPod = (
  o: { spec?: string; container?: string; meta?: string; image?: string } = {},
) => `apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
  labels: {app: web}
${o.meta ?? ""}spec:
  automountServiceAccountToken: false
  securityContext:
    runAsNonRoot: true
    runAsUser: 20000
    runAsGroup: 20000
    seccompProfile: {type: RuntimeDefault}
${o.spec ?? ""}  containers:
    - name: app
      image: ${o.image ?? "registry.example/web:1.2.3@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 500m, memory: 256Mi}
      readinessProbe: {httpGet: {path: /ready, port: 8080}}
      livenessProbe: {httpGet: {path: /live, port: 8080}}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
${o.container ?? ""}`;

const denyAll = `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
`;

const rulesOf = (text: string) => scanManifests(text, { file: "m.yaml" }).findings.map((f) => f.rule);

describe("pod checks: each fails on its bad manifest and passes on the good one", () => {
  it("the good pod with a default deny has no findings", () => {
    expect(scanManifests(goodPod() + denyAll).findings).toEqual([]);
  });

  const cases: [K8sRuleId, Parameters<typeof goodPod>[0]][] = [
    ["K8S-PRIVILEGED", { container: "        privileged: true\n" }],
    ["K8S-PRIV-ESCALATION", { container: "        allowPrivilegeEscalation: true\n" }],
    ["K8S-RUN-AS-ROOT", { container: "        runAsUser: 0\n" }],
    ["K8S-LOW-UID", { container: "        runAsUser: 1000\n" }],
    ["K8S-CAP-DANGEROUS", { container: "        capabilities: {drop: [ALL], add: [SYS_ADMIN]}\n" }],
    ["K8S-CAP-ADDED", { container: "        capabilities: {drop: [ALL], add: [CHOWN]}\n" }],
    ["K8S-CAP-DROP-ALL", { container: "        capabilities: {drop: [NET_RAW]}\n" }],
    ["K8S-RO-ROOTFS", { container: "        readOnlyRootFilesystem: false\n" }],
    ["K8S-SECCOMP", { container: "        seccompProfile: {type: Unconfined}\n" }],
    ["K8S-APPARMOR", { container: "        appArmorProfile: {type: Unconfined}\n" }],
    ["K8S-IMAGE-TAG", { image: "nginx:latest" }],
    ["K8S-IMAGE-TAG", { image: "nginx" }],
    ["K8S-IMAGE-DIGEST", { image: "registry.example:5000/web:1.2.3" }],
    ["K8S-HOST-NETWORK", { spec: "  hostNetwork: true\n" }],
    ["K8S-HOST-PID", { spec: "  hostPID: true\n" }],
    ["K8S-HOST-IPC", { spec: "  hostIPC: true\n" }],
    ["K8S-HOSTPATH", { spec: "  volumes: [{name: sock, hostPath: {path: /var/run/docker.sock}}]\n" }],
    ["K8S-SA-TOKEN-AUTOMOUNT", { spec: "  automountServiceAccountToken: true\n" }],
  ];
  it.each(cases)("%s", (rule, change) => {
    // Later keys win in YAML maps only with duplicates, which are errors: so replace, not repeat.
    let text = goodPod(change) + denyAll;
    if (change?.container?.includes("capabilities"))
      text = text.replace("        capabilities: {drop: [ALL]}\n", "");
    if (change?.container?.includes("allowPrivilegeEscalation"))
      text = text.replace("        allowPrivilegeEscalation: false\n", "");
    if (change?.container?.includes("readOnlyRootFilesystem"))
      text = text.replace("        readOnlyRootFilesystem: true\n", "");
    if (change?.spec?.includes("automount"))
      text = text.replace("  automountServiceAccountToken: false\n", "");
    expect(rulesOf(text)).toContain(rule);
    expect(rulesOf(goodPod() + denyAll)).not.toContain(rule);
  });

  it("runAsNonRoot missing without a runAsUser", () => {
    const text = goodPod().replace("    runAsNonRoot: true\n    runAsUser: 20000\n", "");
    expect(rulesOf(text)).toContain("K8S-RUN-AS-NON-ROOT");
  });

  it("a seccomp profile may come from the pod, the container, or the legacy annotation", () => {
    const noPod = goodPod().replace("    seccompProfile: {type: RuntimeDefault}\n", "");
    expect(rulesOf(noPod)).toContain("K8S-SECCOMP");
    expect(
      rulesOf(
        noPod.replace(
          "        allowPrivilegeEscalation",
          "        seccompProfile: {type: Localhost, localhostProfile: p.json}\n        allowPrivilegeEscalation",
        ),
      ),
    ).not.toContain("K8S-SECCOMP");
    const annotated = noPod.replace(
      "  labels: {app: web}\n",
      "  labels: {app: web}\n  annotations: {seccomp.security.alpha.kubernetes.io/pod: runtime/default}\n",
    );
    expect(rulesOf(annotated)).not.toContain("K8S-SECCOMP");
  });

  it("resources: limits and requests, ephemeral storage only when enabled", () => {
    const none = goodPod().replace(/ {6}resources:\n.*\n.*\n/, "");
    expect(rulesOf(none)).toEqual(expect.arrayContaining(["K8S-LIMITS-MISSING", "K8S-REQUESTS-MISSING"]));
    expect(rulesOf(goodPod())).not.toContain("K8S-EPHEMERAL-STORAGE");
    expect(
      scanManifests(goodPod(), { optional: ["ephemeral-storage"] }).findings.map((f) => f.rule),
    ).toContain("K8S-EPHEMERAL-STORAGE");
  });

  it("pull policy: Never, or IfNotPresent on a mutable tag", () => {
    expect(rulesOf(goodPod({ container: "      imagePullPolicy: Never\n" }))).toContain(
      "K8S-IMAGE-PULL-POLICY",
    );
    expect(
      rulesOf(goodPod({ image: "web:latest", container: "      imagePullPolicy: IfNotPresent\n" })),
    ).toContain("K8S-IMAGE-PULL-POLICY");
    expect(rulesOf(goodPod({ container: "      imagePullPolicy: IfNotPresent\n" }))).not.toContain(
      "K8S-IMAGE-PULL-POLICY",
    );
  });

  it("probes are asked of long-running pods, not of Jobs", () => {
    const noProbes = goodPod().replace(/ {6}readinessProbe.*\n {6}livenessProbe.*\n/, "");
    expect(rulesOf(noProbes)).toEqual(expect.arrayContaining(["K8S-READINESS-PROBE", "K8S-LIVENESS-PROBE"]));
    const job = `apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: run, image: "tool:1.0"}]
`;
    const r = scanManifests(job).findings;
    expect(r.map((f) => f.rule)).not.toContain("K8S-READINESS-PROBE");
    // The CronJob's pod spec is still checked, at its jobTemplate path.
    expect(r.find((f) => f.rule === "K8S-RO-ROOTFS")?.location.path).toBe(
      "spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem",
    );
  });

  it("hostPort and a critical hostPath", () => {
    const f = scanManifests(
      goodPod({
        container: "      ports: [{containerPort: 80, hostPort: 80}]\n",
        spec: "  volumes: [{name: root, hostPath: {path: /}}]\n",
      }),
    ).findings;
    expect(f.find((x) => x.rule === "K8S-HOST-PORT")?.location.path).toBe(
      "spec.containers[0].ports[0].hostPort",
    );
    expect(f.find((x) => x.rule === "K8S-HOSTPATH")?.severity).toBe("critical");
  });

  it("automount off on the ServiceAccount counts", () => {
    const text =
      goodPod().replace("  automountServiceAccountToken: false\n", "  serviceAccountName: web\n") +
      "---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web, namespace: shop}\nautomountServiceAccountToken: false\n";
    expect(rulesOf(text)).not.toContain("K8S-SA-TOKEN-AUTOMOUNT");
    expect(rulesOf(text.replace("automountServiceAccountToken: false\n", ""))).toContain(
      "K8S-SA-TOKEN-AUTOMOUNT",
    );
  });
});

describe("secrets in env", () => {
  const withEnv = (env: string) => goodPod({ container: `      env:\n${env}` });
  it("flags literal secrets by name or by value, never printing the value", () => {
    for (const env of [
      "        - {name: DB_PASSWORD, value: hunter2hunter2}\n",
      "        - {name: STRIPE, value: sk_live_abcdefghijklmnop1234}\n",
      "        - {name: DATABASE_URL, value: 'postgres://app:s3cretpass@db:5432/app'}\n",
      "        - {name: AWS_ACCESS_KEY_ID, value: AKIAIOSFODNN7EXAMPLE}\n",
    ]) {
      const f = scanManifests(withEnv(env)).findings.find((x) => x.rule === "K8S-SECRET-IN-ENV");
      expect(f, env).toBeDefined();
      const shown = JSON.stringify(f);
      for (const secret of [
        "hunter2hunter2",
        "sk_live_abcdefghijklmnop1234",
        "s3cretpass",
        "AKIAIOSFODNN7EXAMPLE",
      ]) {
        expect(shown).not.toContain(secret);
      }
      expect(f?.references).toEqual(["CIS-5.4.1"]);
    }
  });
  it("does not flag settings next to secrets, and prefers files over secretKeyRef", () => {
    for (const env of [
      "        - {name: TOKEN_TTL, value: '3600'}\n",
      "        - {name: PASSWORD_FILE, value: /run/secrets/db}\n",
      "        - {name: AUTH_ENABLED, value: 'true'}\n",
      "        - {name: LOG_LEVEL, value: debug}\n",
    ]) {
      expect(rulesOf(withEnv(env)), env).not.toContain("K8S-SECRET-IN-ENV");
    }
    const ref = withEnv(
      "        - name: DB_PASSWORD\n          valueFrom: {secretKeyRef: {name: db, key: password}}\n",
    );
    const f = scanManifests(ref).findings.filter((x) => x.rule.startsWith("K8S-SECRET"));
    expect(f.map((x) => [x.rule, x.severity])).toEqual([["K8S-SECRET-ENV-REF", "low"]]);
  });
});

describe("locations", () => {
  it("points at the line of the offending field, or of its nearest parent", () => {
    const text = goodPod({ container: "        privileged: true\n" });
    const lines = text.split("\n");
    const f = scanManifests(text, { file: "pod.yaml" }).findings;
    const priv = f.find((x) => x.rule === "K8S-PRIVILEGED");
    expect(priv?.location).toMatchObject({
      file: "pod.yaml",
      resource: "Pod/shop/web",
      path: "spec.containers[0].securityContext.privileged",
    });
    expect(lines[(priv?.location.line ?? 0) - 1]).toContain("privileged: true");
    // A missing field: the line of the securityContext it belongs in.
    const ro = scanManifests(goodPod().replace("        readOnlyRootFilesystem: true\n", "")).findings.find(
      (x) => x.rule === "K8S-RO-ROOTFS",
    );
    expect(ro?.location.path).toBe("spec.containers[0].securityContext.readOnlyRootFilesystem");
    expect(goodPod().split("\n")[(ro?.location.line ?? 0) - 1]).toContain("allowPrivilegeEscalation");
    expect(f.find((x) => x.rule === "K8S-NETPOL-DEFAULT-DENY")?.location.resource).toBe("Namespace//shop");
    for (const x of f) expect(x.location.line, x.rule).toBeGreaterThan(0);
  });

  it("counts lines across documents and inside a kind: List", () => {
    const list = `apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a}
    spec:
      containers:
        - name: x
          image: busybox:latest
`;
    const f = scanManifests(list, { file: "l.yaml" }).findings.find((x) => x.rule === "K8S-IMAGE-TAG");
    expect(f?.location).toMatchObject({ line: 14, resource: "Pod//a", path: "spec.containers[0].image" });
  });

  it("names helm templates from # Source: comments, with lines inside the rendered template", () => {
    const helm = `---
# Source: shop/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: shop
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels:
    helm.sh/chart: shop-0.1.0
spec:
  template:
    metadata:
      labels: {app: shop}
    spec:
      serviceAccountName: shop
      containers:
        - name: shop
          image: "shop:0.1.0"
          securityContext:
            privileged: true
`;
    const f = scanManifests(helm, { file: "rendered.yaml" }).findings.find(
      (x) => x.rule === "K8S-PRIVILEGED",
    );
    expect(f?.location).toMatchObject({ file: "shop/templates/deployment.yaml", line: 17 });
    expect(f?.details).toMatchObject({ renderedFrom: "rendered.yaml", renderedLine: 25 });
  });

  it("reads kustomize build output (namePrefix, commonLabels, no comments)", () => {
    const kustomize = `apiVersion: v1
kind: Service
metadata:
  labels: {app: shop, env: prod}
  name: prod-shop
  namespace: prod
spec:
  selector: {app: shop, env: prod}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  labels: {app: shop, env: prod}
  name: prod-shop
  namespace: prod
spec:
  selector:
    matchLabels: {app: shop, env: prod}
  template:
    metadata:
      labels: {app: shop, env: prod}
    spec:
      hostPID: true
      containers:
      - image: shop:1.0
        name: shop
`;
    const r = scanManifests(kustomize, { file: "build.yaml" });
    const f = r.findings.find((x) => x.rule === "K8S-HOST-PID");
    expect(f?.location).toMatchObject({
      file: "build.yaml",
      line: 23,
      resource: "Deployment/prod/prod-shop",
    });
    expect(r.stats).toMatchObject({ documents: 2, resources: 2, workloads: 1 });
  });

  it("fingerprints are stable across runs and line moves, and differ per place", () => {
    const a = scanManifests(goodPod({ image: "x:latest" })).findings.find((x) => x.rule === "K8S-IMAGE-TAG");
    const b = scanManifests(`# moved\n\n${goodPod({ image: "x:latest" })}`).findings.find(
      (x) => x.rule === "K8S-IMAGE-TAG",
    );
    expect(a?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
    expect(b?.fingerprint).toBe(a?.fingerprint);
    expect(b?.location.line).toBe((a?.location.line ?? 0) + 2);
  });
});

describe("input", () => {
  it("malformed YAML fails with file:line:col", () => {
    expect(() => parseManifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: [a\n", "bad.yaml")).toThrow(
      Invalid,
    );
    try {
      parseManifests("apiVersion: v1\nkind: Pod\nkind: Pod\n", "dup.yaml");
      expect.fail("duplicate keys are an error");
    } catch (err) {
      expect((err as Error).message).toMatch(/^dup\.yaml:3:1: /);
    }
  });

  it("refuses an alias with no anchor and an alias bomb with Invalid at the alias", () => {
    expect(() => parseManifests("kind: Pod\nspec: *a\n", "m.yaml")).toThrow(
      /^m\.yaml:2:7: alias \*a has no anchor &a before it$/,
    );
    const bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"];
    for (let l = 1; l < 4; l++)
      bomb.push(
        `a${l}: &a${l} [${Array(10)
          .fill(`*a${l - 1}`)
          .join(", ")}]`,
      );
    // a1 aliases a0 ten times (fine); a2 is the first to alias an anchor that holds aliases.
    expect(() => parseManifests(`kind: Pod\n${bomb.join("\n")}\n`, "m.yaml")).toThrow(
      /^m\.yaml:4:10: aliases expand more than 100 times/,
    );
  });

  it("a kind named like an Object.prototype member is a resource, not a workload", () => {
    for (const kind of ["toString", "constructor", "__proto__"]) {
      const r = scanManifests(`apiVersion: v1\nkind: ${kind}\nspec: {containers: []}\n`);
      expect(r.stats).toMatchObject({ resources: 1, workloads: 0 });
    }
  });

  it("labels and quantity units named like Object.prototype members are plain strings", () => {
    const [pod] = workloadsOf(
      resourcesOf(
        parseManifests("apiVersion: v1\nkind: Pod\nmetadata: {labels: {__proto__: x}}\nspec: {}\n"),
      ),
    );
    expect(pod && Object.keys(pod.labels)).toEqual(["__proto__"]);
    expect(mapSelectorMatches({ __proto__: "x" }, pod?.labels ?? {})).toBe(false); // a literal's __proto__ is not a key
    expect(mapSelectorMatches(JSON.parse('{"__proto__": "x"}'), pod?.labels ?? {})).toBe(true);
    expect(mapSelectorMatches({ constructor: "x" }, pod?.labels ?? {})).toBe(false);
    expect(quantity("1constructor")).toBeUndefined();
    expect(quantity("1Gi")).toBe(2 ** 30);
  });

  it("skips non-Kubernetes documents and empty ones", () => {
    const r = scanManifests(
      "---\n---\nfoo: bar\n---\n- 1\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    );
    expect(r.stats).toMatchObject({ documents: 3, resources: 1, workloads: 0 });
    expect(r.findings).toEqual([]);
  });

  it("walks directories for *.yaml, *.yml and *.json, and reads stdin for -", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rampart-k8s-"));
    mkdirSync(join(dir, "nested", ".git"), { recursive: true });
    writeFileSync(join(dir, "a.yaml"), goodPod({ image: "a:latest" }));
    writeFileSync(
      join(dir, "nested", "b.yml"),
      "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {hostIPC: true, containers: []}\n",
    );
    writeFileSync(
      join(dir, "nested", "c.json"),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "c" },
        spec: { hostPID: true, containers: [] },
      }),
    );
    writeFileSync(join(dir, "nested", "notes.txt"), "apiVersion: v1\nkind: Pod\n");
    writeFileSync(
      join(dir, "nested", ".git", "x.yaml"),
      "apiVersion: v1\nkind: Pod\nspec: {hostNetwork: true}\n",
    );
    const clock = manualClock("2026-05-01T00:00:00Z");
    const r = await scanK8s([dir], { clock });
    expect(r.stats.files).toBe(3);
    expect(new Set(r.findings.map((f) => f.location.file))).toEqual(
      new Set([join(dir, "a.yaml"), join(dir, "nested", "b.yml"), join(dir, "nested", "c.json")]),
    );
    expect(r.findings.map((f) => f.rule)).not.toContain("K8S-HOST-NETWORK");
    expect(r.startedAt).toBe("2026-05-01T00:00:00.000Z");

    const s = await scanK8s(["-"], { stdin: async () => goodPod({ spec: "  hostNetwork: true\n" }) });
    expect(s.findings.find((f) => f.rule === "K8S-HOST-NETWORK")?.location.file).toBe("<stdin>");
    await expect(scanK8s([join(dir, "missing")])).rejects.toThrow(/missing: no such file/);
  });
});

describe("RBAC", () => {
  const role = (rules: string, kind = "ClusterRole") =>
    `apiVersion: rbac.authorization.k8s.io/v1\nkind: ${kind}\nmetadata: {name: r}\nrules:\n${rules}`;
  const cases: [K8sRuleId, string][] = [
    ["K8S-RBAC-WILDCARD", "  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n"],
    ["K8S-RBAC-SECRETS", "  - {apiGroups: [''], resources: [secrets], verbs: [get, list]}\n"],
    ["K8S-RBAC-POD-EXEC", "  - {apiGroups: [''], resources: [pods/exec], verbs: [create]}\n"],
    ["K8S-RBAC-POD-EXEC", "  - {apiGroups: [''], resources: [pods/portforward], verbs: [get, create]}\n"],
    [
      "K8S-RBAC-ESCALATE",
      "  - {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [escalate, bind]}\n",
    ],
    ["K8S-RBAC-ESCALATE", "  - {apiGroups: [''], resources: [users, groups], verbs: [impersonate]}\n"],
    ["K8S-RBAC-CREATE-PODS", "  - {apiGroups: [''], resources: [pods], verbs: [create]}\n"],
  ];
  it.each(cases)("%s", (rule, rules) => {
    const f = scanManifests(role(rules), { file: "rbac.yaml" }).findings;
    expect(f.map((x) => x.rule)).toContain(rule);
    expect(f.find((x) => x.rule === rule)?.location.line).toBe(5);
    expect(f.find((x) => x.rule === rule)?.references ?? []).toEqual(
      (k8sRules[rule] as { cis?: string[] }).cis?.map((c) => `CIS-${c}`) ?? [],
    );
  });
  it("a full wildcard is critical; a read-only role on configmaps is clean", () => {
    const f = scanManifests(role("  - {apiGroups: ['*'], resources: ['*'], verbs: ['*']}\n")).findings;
    expect(f[0]).toMatchObject({
      rule: "K8S-RBAC-WILDCARD",
      severity: "critical",
      location: { path: "rules[0].verbs" },
    });
    expect(
      scanManifests(
        role("  - {apiGroups: [''], resources: [configmaps, pods/log], verbs: [get, list]}\n", "Role"),
      ).findings,
    ).toEqual([]);
  });
  it("bindings to cluster-admin and system:masters", () => {
    const binding = `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ci}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects:
  - {kind: Group, name: system:masters}
`;
    const f = scanManifests(binding).findings;
    expect(f.map((x) => [x.rule, x.severity, x.location.line])).toEqual([
      ["K8S-RBAC-CLUSTER-ADMIN", "critical", 4],
      ["K8S-RBAC-SYSTEM-MASTERS", "high", 6],
    ]);
    const view = binding.replace("cluster-admin", "view").replace("system:masters", "devs");
    expect(scanManifests(view).findings).toEqual([]);
  });
});

describe("NetworkPolicy coverage", () => {
  const deploy = (ns: string, app: string) => `---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${app}, namespace: ${ns}}
spec:
  template:
    metadata: {labels: {app: ${app}}}
    spec: {containers: [{name: c, image: "x:1"}]}
`;
  const netpol = (ns: string, selector: string, types: string, extra = "") => `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p-${ns}, namespace: ${ns}}
spec:
  podSelector: ${selector}
  policyTypes: ${types}
${extra}`;
  const net = (text: string) =>
    scanManifests(text)
      .findings.filter((f) => f.rule.startsWith("K8S-NETPOL"))
      .map((f) => [f.rule, f.location.resource, f.severity]);

  it("a namespace with workloads and no default deny, and its uncovered pods", () => {
    expect(net(deploy("a", "web"))).toEqual([
      ["K8S-NETPOL-DEFAULT-DENY", "Namespace//a", "medium"],
      ["K8S-NETPOL-POD-UNCOVERED", "Deployment/a/web", "medium"],
    ]);
  });
  it("a default deny for ingress and egress covers the namespace", () => {
    expect(net(deploy("a", "web") + netpol("a", "{}", "[Ingress, Egress]"))).toEqual([]);
  });
  it("ingress-only default deny: egress is still missing (low)", () => {
    expect(net(deploy("a", "web") + netpol("a", "{}", "[Ingress]"))).toEqual([
      ["K8S-NETPOL-DEFAULT-DENY", "Namespace//a", "low"],
      ["K8S-NETPOL-POD-UNCOVERED", "Deployment/a/web", "low"],
    ]);
  });
  it("an allow-all policy selects pods but is not a default deny", () => {
    const allowAll = netpol("a", "{}", "[Ingress, Egress]", "  ingress: [{}]\n  egress: [{}]\n");
    expect(net(deploy("a", "web") + allowAll)).toEqual([
      ["K8S-NETPOL-DEFAULT-DENY", "Namespace//a", "medium"],
    ]);
  });
  it("policies only count in their namespace; matchExpressions select; a policy selecting nothing is reported", () => {
    const text =
      deploy("a", "web") +
      deploy("b", "api") +
      netpol("a", "{}", "[Ingress, Egress]") +
      netpol("b", "{matchExpressions: [{key: app, operator: In, values: [api]}]}", "[Ingress, Egress]") +
      netpol("c", "{matchLabels: {app: ghost}}", "[Ingress]");
    expect(net(text)).toEqual([
      ["K8S-NETPOL-DEFAULT-DENY", "Namespace//b", "medium"],
      ["K8S-NETPOL-NO-TARGET", "NetworkPolicy/c/p-c", "low"],
    ]);
  });
});

describe("catalogue", () => {
  it("every rule has a fix, and CIS ids are ids only", () => {
    for (const [id, r] of Object.entries(k8sRules)) {
      expect(id).toMatch(/^K8S-[A-Z0-9-]+$/);
      expect(r.fix.length).toBeGreaterThan(10);
      for (const c of (r as { cis?: string[] }).cis ?? []) expect(c).toMatch(/^5\.\d+\.\d+$/);
    }
  });
});
