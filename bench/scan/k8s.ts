// Kubernetes posture checks throughput (manifests/s) through scanManifests over 1,000 generated
// Deployments with varied specs (plus their Services, a NetworkPolicy per namespace and some
// RBAC), beside the anchor in the same run: YAML parsing alone of the same text
// (yaml.parseAllDocuments), which every manifest scanner must do first.
import { parseAllDocuments } from "yaml";
import { parseManifests, scanManifests } from "../../src/appsec/scan/k8s/index.ts";

export interface K8sBench {
  manifests: number;
  deployments: number;
  kb: number;
  /** Manifests/s through scanManifests(text): parse + checks. */
  scanPerS: number;
  /** Manifests/s through scanManifests(parsed): checks only. */
  checksPerS: number;
  /** Manifests/s of parseAllDocuments alone. */
  parsePerS: number;
}

const log = (msg: string) => process.stderr.write(`  · ${msg}\n`);

/** A deterministic pseudo-random stream so every run scans the same text. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** `count` Deployments across 20 namespaces, hardened to different degrees, with Services and policies. */
export function generateManifests(count = 1000): { text: string; manifests: number } {
  const r = rng(42);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
  const docs: string[] = [];
  const namespaces = Array.from({ length: 20 }, (_, i) => `team-${i}`);
  for (const ns of namespaces.slice(0, 15))
    docs.push(
      `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\n  namespace: ${ns}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n`,
    );
  for (let i = 0; i < count; i++) {
    const ns = pick(namespaces);
    const name = `svc-${i}`;
    const hardened = r() < 0.5;
    const image = pick([
      `registry.example.org/${name}:1.${i % 30}.0`,
      `${name}:latest`,
      `registry.example.org/${name}@sha256:${"ab".repeat(32)}`,
      name,
    ]);
    const sc = hardened
      ? `          securityContext:\n            runAsNonRoot: true\n            runAsUser: 10001\n            allowPrivilegeEscalation: false\n            readOnlyRootFilesystem: true\n            capabilities:\n              drop: [ALL]\n            seccompProfile:\n              type: RuntimeDefault\n`
      : pick([
          "",
          `          securityContext:\n            privileged: true\n`,
          `          securityContext:\n            capabilities:\n              add: [NET_ADMIN, SYS_ADMIN]\n`,
        ]);
    const resources =
      r() < 0.7
        ? `          resources:\n            requests: {cpu: ${pick(["100m", "250m", "1"])}, memory: ${pick(["128Mi", "256Mi", "1Gi"])}}\n            limits: {cpu: ${pick(["500m", "1", "2"])}, memory: ${pick(["256Mi", "512Mi", "2Gi"])}}\n`
        : "";
    const probes =
      r() < 0.6
        ? `          livenessProbe:\n            httpGet: {path: /healthz, port: 8080}\n          readinessProbe:\n            httpGet: {path: /ready, port: 8080}\n`
        : "";
    const env =
      r() < 0.3
        ? `          env:\n            - name: DB_PASSWORD\n              value: "p-${i}"\n            - name: LOG_LEVEL\n              value: info\n`
        : "";
    const host = r() < 0.1 ? `      hostNetwork: true\n      hostPID: true\n` : "";
    const volumes =
      r() < 0.15
        ? `      volumes:\n        - name: docker\n          hostPath: {path: /var/run/docker.sock}\n`
        : "";
    const sidecar =
      r() < 0.3
        ? `        - name: proxy\n          image: envoyproxy/envoy:v1.${i % 10}.0\n          ports: [{containerPort: 9901}]\n`
        : "";
    docs.push(
      `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\n  namespace: ${ns}\n  labels: {app: ${name}, tier: ${pick(["web", "api", "worker"])}}\nspec:\n  replicas: ${1 + (i % 5)}\n  selector:\n    matchLabels: {app: ${name}}\n  template:\n    metadata:\n      labels: {app: ${name}}\n    spec:\n${host}      automountServiceAccountToken: ${hardened}\n      containers:\n        - name: app\n          image: ${image}\n          imagePullPolicy: ${pick(["Always", "IfNotPresent"])}\n          ports: [{containerPort: 8080}]\n${sc}${resources}${probes}${env}${sidecar}${volumes}`,
    );
    if (r() < 0.5)
      docs.push(
        `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  selector: {app: ${name}}\n  ports: [{port: 80, targetPort: 8080}]\n`,
      );
    if (i % 50 === 0)
      docs.push(
        `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: ${name}-admin\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: ServiceAccount, name: ${name}, namespace: ${ns}}]\n`,
      );
  }
  return { text: docs.join("---\n"), manifests: docs.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Measures scanManifests against parseAllDocuments on the same text; median of `rounds`. */
export function benchK8s(deployments = 1000, rounds = 5): K8sBench {
  const { text, manifests } = generateManifests(deployments);
  log(`k8s: ${manifests} manifests (${deployments} deployments), ${(text.length / 1024).toFixed(0)} KB`);
  // One untimed round of each warms the JIT.
  parseAllDocuments(text);
  const parsed = parseManifests(text, "bench.yaml");
  scanManifests(parsed);
  const parse: number[] = [];
  const scan: number[] = [];
  const checks: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    parseAllDocuments(text);
    parse.push((performance.now() - t) / 1000);
    t = performance.now();
    scanManifests(text, { file: "bench.yaml" });
    scan.push((performance.now() - t) / 1000);
    t = performance.now();
    scanManifests(parsed);
    checks.push((performance.now() - t) / 1000);
    log(`k8s round ${i + 1}/${rounds}`);
  }
  return {
    manifests,
    deployments,
    kb: text.length / 1024,
    scanPerS: manifests / median(scan),
    checksPerS: manifests / median(checks),
    parsePerS: manifests / median(parse),
  };
}
