// The Helm chart in deploy/helm/rampart, rendered and checked as a cluster and Rampart would see it.
//
// Helm is not packaged in Debian or on npm, and the test machines reach only those registries, so
// the chart is rendered by deploy/helm/render: a small Go program on text/template and sprig (the
// engine and function library Helm uses), built here from Debian's Go packages. Every rendered
// object is validated against the Kubernetes (and Prometheus Operator) schemas with
// kubernetes-models, scanned by Rampart's own `scan k8s`, and the rampart.yaml files it generates
// are loaded by Rampart's config loader with the Secret's files it mounts.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import ipaddr from "ipaddr.js";
import { Deployment } from "kubernetes-models/apps/v1";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import { ConfigMap, Service, ServiceAccount } from "kubernetes-models/v1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { scanManifests } from "../src/appsec/scan/k8s/index.ts";
import { parseConfig } from "../src/config/index.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const chart = join(root, "deploy", "helm", "rampart");
const production = join(chart, "values-production.example.yaml");

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** kind → the model whose validate() checks it against the published schema. */
const models: Record<string, new (o: never) => { validate(): void }> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
  "apps/v1/Deployment": Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

function validate(o: Obj): void {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}: add its model to the test`);
  new Model(o as never).validate();
}

let work: string;
let renderer: string;

interface Rendered {
  text: string;
  objects: Obj[];
  get(kind: string, nameSuffix: string): Obj;
}

async function render(...args: string[]): Promise<Rendered> {
  const { stdout } = await run(renderer, ["--name", "rampart", "--namespace", "rampart", ...args, chart]);
  const objects = parseAllDocuments(stdout).map((d) => d.toJS() as Obj);
  return {
    text: stdout,
    objects,
    get(kind, nameSuffix) {
      const found = objects.filter((o) => o.kind === kind && String(o.metadata.name).endsWith(nameSuffix));
      if (found.length !== 1) throw new Error(`expected one ${kind} *${nameSuffix}, found ${found.length}`);
      return found[0] as Obj;
    },
  };
}

const pods = (r: Rendered) => r.objects.filter((o) => o.kind === "Deployment");

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "rampart-chart-"));
  renderer = join(work, "render");
  try {
    await run("go", ["version"]);
  } catch {
    throw new Error(
      "the chart tests build deploy/helm/render with Go: apt-get install golang-go golang-github-masterminds-sprig-dev golang-k8s-sigs-yaml-dev",
    );
  }
  await run("go", ["build", "-o", renderer, join(root, "deploy", "helm", "render", "main.go")], {
    env: {
      ...process.env,
      GO111MODULE: "off",
      GOPATH: "/usr/share/gocode",
      GOCACHE: join(work, "go-cache"),
      GOFLAGS: "",
    },
    timeout: 180_000,
  }).catch((err: Error & { stderr?: string }) => {
    throw new Error(
      `building deploy/helm/render failed (is golang-github-masterminds-sprig-dev installed?): ${err.stderr ?? err.message}`,
    );
  });
}, 200_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each([
  ["default values", [] as string[]],
  ["the production example", ["-f", production]],
])("the chart with %s", (_name, args) => {
  let r: Rendered;
  beforeAll(async () => {
    r = await render(...args);
  });

  it("renders only objects that validate against the Kubernetes schemas", () => {
    expect(r.objects.length).toBeGreaterThan(10);
    for (const o of r.objects) expect(() => validate(o), `${o.kind}/${o.metadata?.name}`).not.toThrow();
    expect(r.text).toMatch(/^---\n# Source: rampart\/templates\/configmap\.yaml\n/);
    // Helpers and notes are not manifests.
    expect(r.text).not.toContain("templates/_helpers.tpl");
    expect(r.text).not.toContain("NOTES.txt");
  });

  it("gets no critical, high or medium finding from rampart scan k8s", () => {
    const result = scanManifests(r.text, { file: "rendered.yaml" });
    const serious = result.findings.filter((f) => ["critical", "high", "medium"].includes(f.severity));
    expect(serious.map((f) => `${f.severity} ${f.rule} ${f.location.resource}: ${f.title}`)).toEqual([]);
    // What is left is known and low: secrets Rampart reads only from the environment.
    for (const f of result.findings) expect(["K8S-SECRET-ENV-REF", "K8S-IMAGE-DIGEST"]).toContain(f.rule);
  });

  it("runs every container hardened, with probes and resources", () => {
    for (const d of pods(r)) {
      const spec = d.spec.template.spec;
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.securityContext.runAsUser).toBeGreaterThan(10_000);
      expect(spec.hostNetwork ?? false).toBe(false);
      for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
        expect(c.securityContext, `${d.metadata.name}/${c.name}`).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.securityContext.capabilities.add).toBeUndefined();
        expect(c.resources.requests).toHaveProperty("cpu");
        expect(c.resources.requests).toHaveProperty("memory");
        expect(c.resources.limits).toHaveProperty("cpu");
        expect(c.resources.limits).toHaveProperty("memory");
      }
      for (const c of spec.containers) {
        expect(c.readinessProbe, c.name).toBeDefined();
        expect(c.livenessProbe, c.name).toBeDefined();
        expect(c.readinessProbe).not.toEqual(c.livenessProbe);
      }
    }
    const server = r.get("Deployment", "-server").spec.template.spec.containers[0];
    expect(server.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" });
    expect(server.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" });
    const gateway = r.get("Deployment", "-gateway").spec.template.spec.containers[0];
    expect(gateway.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "metrics" });
    expect(gateway.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "metrics" });
  });

  it("gives server and gateway service accounts of their own, without API tokens or roles", () => {
    const accounts = r.objects.filter((o) => o.kind === "ServiceAccount");
    expect(accounts.map((a) => a.metadata.name).sort()).toEqual(["rampart-gateway", "rampart-server"]);
    for (const a of accounts) expect(a.automountServiceAccountToken).toBe(false);
    expect(r.get("Deployment", "-server").spec.template.spec).toMatchObject({
      serviceAccountName: "rampart-server",
      automountServiceAccountToken: false,
    });
    expect(r.get("Deployment", "-gateway").spec.template.spec).toMatchObject({
      serviceAccountName: "rampart-gateway",
      automountServiceAccountToken: false,
    });
    // Neither process calls the Kubernetes API (ESO calls Rampart, not the reverse).
    expect(r.objects.filter((o) => /Role/.test(o.kind))).toEqual([]);
  });

  it("scales gateways with an HPA and keeps them available with a PDB", () => {
    const gateway = r.get("Deployment", "-gateway");
    const labels = gateway.spec.template.metadata.labels;
    const hpa = r.get("HorizontalPodAutoscaler", "-gateway");
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: gateway.metadata.name,
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    // The HPA owns the replica count.
    expect(gateway.spec.replicas).toBeUndefined();
    const pdb = r.get("PodDisruptionBudget", "-gateway");
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    for (const [k, v] of Object.entries(pdb.spec.selector.matchLabels)) expect(labels[k]).toBe(v);
  });

  it("takes every credential from the Secret, none from values", () => {
    const secretName = args.length ? "rampart-prod" : "rampart-secrets";
    for (const d of pods(r)) {
      const spec = d.spec.template.spec;
      for (const c of [...(spec.initContainers ?? []), ...spec.containers])
        for (const e of c.env ?? []) {
          expect(e.value, `${c.name} ${e.name} must come from a Secret`).toBeUndefined();
          expect(e.valueFrom.secretKeyRef.name).toBe(secretName);
        }
      for (const v of spec.volumes.filter((v: Obj) => v.secret)) expect(v.secret.secretName).toBe(secretName);
    }
    // The ConfigMap holds references, never values.
    const cm = r.get("ConfigMap", "-config");
    for (const file of ["server.yaml", "gateway.yaml"]) {
      const text = cm.data[file] as string;
      expect(text).not.toMatch(/postgres(ql)?:\/\/|redis:\/\//);
      expect(text).toContain("${file:/etc/rampart/secrets/");
    }
    const server = r.get("Deployment", "-server").spec.template.spec.containers[0];
    expect(server.env.map((e: Obj) => e.name).sort()).toEqual([
      "RAMPART_ADMIN_TOKEN",
      "RAMPART_SECRETS_ROOT_KEY",
    ]);
  });

  it("generates rampart.yaml files that Rampart loads, with the Secret's files where the pods mount them", async () => {
    const cm = r.get("ConfigMap", "-config");
    const secretFiles: Record<string, string> = {
      "database-url": "postgres://rampart:pw@db.example.internal:5432/rampart",
      "redis-url": "rediss://:pw@redis.example.internal:6379",
      "ingest-token": "i".repeat(40),
      "identity-secret": "s".repeat(40),
      "bot-cookie-secret": "b".repeat(40),
    };
    for (const [file, component] of [
      ["server.yaml", "-server"],
      ["gateway.yaml", "-gateway"],
    ] as const) {
      const spec = r.get("Deployment", component).spec.template.spec;
      const container = spec.containers[0];
      const secretsMount = container.volumeMounts.find((m: Obj) => m.mountPath === "/etc/rampart/secrets");
      const volume = spec.volumes.find((v: Obj) => v.name === secretsMount.name);
      const mounted = new Set(volume.secret.items.map((i: Obj) => `/etc/rampart/secrets/${i.path}`));
      const read: string[] = [];
      const config = await parseConfig(
        cm.data[file],
        `/etc/rampart/config/${file}`,
        {},
        {
          readFile: async (path) => {
            read.push(path);
            if (!mounted.has(path))
              throw Object.assign(new Error(`${path} is not mounted`), { code: "ENOENT" });
            const key = path.slice("/etc/rampart/secrets/".length);
            return `${secretFiles[key]}\n`;
          },
        },
      );
      expect(read.length).toBeGreaterThan(0);
      expect(container.args).toEqual(expect.arrayContaining(["-c", `/etc/rampart/config/${file}`]));
      expect(config.environment).toBe("prod");
      expect(config.hotState.redisUrl).toBe(secretFiles["redis-url"]);
      expect(config.identity.tokens.secret).toBe(secretFiles["identity-secret"]);
      if (file === "server.yaml") {
        expect(config.database.url).toBe(secretFiles["database-url"]);
        expect(config.events.ingestTokens).toEqual([{ name: "gateway", token: secretFiles["ingest-token"] }]);
        expect(config.secrets.root).toEqual({ provider: "env", variable: "RAMPART_SECRETS_ROOT_KEY" });
        expect(config.server).toMatchObject({ host: "0.0.0.0", port: container.ports[0].containerPort });
        // The audit key file is where the init container copies it.
        const init = spec.initContainers[0];
        expect(init.command.join(" ")).toContain(config.audit.keyFile);
      } else {
        expect(config.gateway.controlPlane).toMatchObject({
          url: "http://rampart-server.rampart.svc:7600",
          token: secretFiles["ingest-token"],
          spoolDir: "/var/lib/rampart/spool",
        });
        expect(config.gateway.bots.cookieSecret).toBe(secretFiles["bot-cookie-secret"]);
        expect(config.gateway.metrics).toEqual({ host: "0.0.0.0", port: 7681 });
        expect(container.volumeMounts.map((m: Obj) => m.mountPath)).toContain(
          config.gateway.controlPlane?.spoolDir,
        );
      }
    }
  });

  it("restricts traffic to the flows Rampart needs", () => {
    const policies = r.objects.filter((o) => o.kind === "NetworkPolicy");
    const deny = policies.filter((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny).toHaveLength(1);
    expect(deny[0]?.spec).toEqual({ podSelector: {}, policyTypes: ["Ingress", "Egress"] });

    const ns = { name: "rampart", labels: { "kubernetes.io/metadata.name": "rampart" } };
    const podOf = (component: string): Pod => ({
      ns,
      labels: r.get("Deployment", `-${component}`).spec.template.metadata.labels,
      ip: "10.1.0.5",
    });
    const server = podOf("server");
    const gateway = podOf("gateway");
    const databases = { name: "databases", labels: { "kubernetes.io/metadata.name": "databases" } };
    // A pod of another namespace: only the Rampart pods' own policies decide its flows.
    const other: Pod = {
      ns: { name: "apps", labels: { "kubernetes.io/metadata.name": "apps" } },
      labels: { app: "something-else" },
      ip: "10.4.0.9",
    };
    const dns: Pod = {
      ns: { name: "kube-system", labels: { "kubernetes.io/metadata.name": "kube-system" } },
      labels: { "k8s-app": "kube-dns" },
      ip: "10.96.0.10",
    };
    const prometheus: Pod = {
      ns: { name: "monitoring", labels: { "kubernetes.io/metadata.name": "monitoring" } },
      labels: { "app.kubernetes.io/name": "prometheus" },
      ip: "10.2.0.7",
    };
    const prod = args.length > 0;
    const postgres: Pod = prod
      ? { ns: undefined, labels: {}, ip: "10.20.0.10" }
      : { ns: databases, labels: { "app.kubernetes.io/name": "postgresql" }, ip: "10.5.0.20" };
    const redis: Pod = prod
      ? { ns: undefined, labels: {}, ip: "10.20.0.20" }
      : { ns: databases, labels: { "app.kubernetes.io/name": "redis" }, ip: "10.5.0.21" };
    const internet: Pod = { ns: undefined, labels: {}, ip: "203.0.113.9" };
    const client: Pod = { ns: undefined, labels: {}, ip: "198.51.100.4" };
    const can = (from: Pod, to: Pod, port: number, protocol = "TCP") =>
      flowAllowed(policies, from, to, port, protocol);

    // Allowed: gateway → server (events, secrets), both → Redis, server → PostgreSQL, DNS,
    // Prometheus scrapes, and clients to the gateway's proxy port.
    expect(can(gateway, server, 7600)).toBe(true);
    expect(can(gateway, redis, 6379)).toBe(true);
    expect(can(server, redis, 6379)).toBe(true);
    expect(can(server, postgres, 5432)).toBe(true);
    expect(can(server, dns, 53, "UDP")).toBe(true);
    expect(can(gateway, dns, 53, "TCP")).toBe(true);
    expect(can(prometheus, server, 7600)).toBe(true);
    expect(can(prometheus, gateway, 7681)).toBe(true);
    expect(can(client, gateway, 7680)).toBe(true);
    // Everything else is refused.
    expect(can(gateway, postgres, 5432)).toBe(false);
    expect(can(server, gateway, 7680)).toBe(false);
    expect(can(client, gateway, 7681)).toBe(false);
    expect(can(client, server, 7600)).toBe(false);
    expect(can(other, server, 7600)).toBe(false);
    expect(can(other, gateway, 7681)).toBe(false);
    expect(can(server, internet, 443)).toBe(false);
    expect(can(gateway, internet, 443)).toBe(false);
    expect(can(server, dns, 80)).toBe(false);
    expect(can(gateway, server, 5432)).toBe(false);
    if (prod) {
      const shop: Pod = {
        ns: { name: "shop", labels: { "kubernetes.io/metadata.name": "shop" } },
        labels: { "app.kubernetes.io/name": "shop" },
        ip: "10.3.0.4",
      };
      expect(can(gateway, shop, 8080)).toBe(true);
      expect(can(server, shop, 8080)).toBe(false);
    }
  });
});

describe("the chart's values", () => {
  it("follow values.schema.json, which refuses wrong types and chart-owned config keys", () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const check = ajv.compile(JSON.parse(readFileSync(join(chart, "values.schema.json"), "utf8")) as object);
    const defaults = parse(readFileSync(join(chart, "values.yaml"), "utf8")) as Obj;
    const prodValues = parse(readFileSync(production, "utf8")) as Obj;
    expect(check(defaults), JSON.stringify(check.errors)).toBe(true);
    expect(check(mergeValues(structuredClone(defaults), prodValues)), JSON.stringify(check.errors)).toBe(
      true,
    );
    expect(check(mergeValues(structuredClone(defaults), { gateway: { port: "7680x" } }))).toBe(false);
    expect(
      check(mergeValues(structuredClone(defaults), { config: { database: { url: "postgres://x" } } })),
    ).toBe(false);
    expect(check(mergeValues(structuredClone(defaults), { secrets: { adminToken: "inline" } }))).toBe(false);
  });

  it("set the production example's shape: 3+ gateways, 2 servers with a PDB, digest, ServiceMonitor", async () => {
    const r = await render("-f", production);
    expect(r.get("HorizontalPodAutoscaler", "-gateway").spec.minReplicas).toBe(3);
    expect(r.get("Deployment", "-server").spec.replicas).toBe(2);
    expect(r.get("PodDisruptionBudget", "-server").spec.maxUnavailable).toBe(1);
    expect(r.get("Deployment", "-server").spec.template.spec.containers[0].image).toMatch(
      /@sha256:[0-9a-f]{64}$/,
    );
    const sm = r.get("ServiceMonitor", "rampart");
    expect(sm.spec.endpoints.map((e: Obj) => e.port).sort()).toEqual(["http", "metrics"]);
    // The gateway's metrics are on an internal Service, never on the public one.
    expect(r.get("Service", "-gateway").spec.ports.map((p: Obj) => p.name)).toEqual(["http"]);
    expect(r.get("Service", "-gateway").spec.type).toBe("LoadBalancer");
    expect(r.get("Service", "-gateway-metrics").spec).toMatchObject({ type: "ClusterIP" });
    // A single server needs no PDB; the default render has none.
    const single = await render();
    expect(
      single.objects.filter((o) => o.kind === "PodDisruptionBudget" && o.metadata.name.endsWith("-server")),
    ).toEqual([]);
    expect(single.objects.filter((o) => o.kind === "ServiceMonitor")).toEqual([]);
  });

  it("keep the user's config beside the chart's, and use a cloud KMS root key when one is set", async () => {
    const values = join(work, "kms-values.yaml");
    writeFileSync(
      values,
      [
        "config:",
        "  secrets:",
        "    root: { provider: aws-kms, keyId: alias/rampart, region: eu-west-1 }",
        "  identity:",
        "    sessions: { idleTimeoutMinutes: 15 }",
        "  rbac:",
        "    bindings: [{ role: auditor, groups: [compliance] }]",
      ].join("\n"),
    );
    const r = await render("-f", values);
    const server = r.get("Deployment", "-server").spec.template.spec.containers[0];
    expect(server.env.map((e: Obj) => e.name)).toEqual(["RAMPART_ADMIN_TOKEN"]);
    const cm = r.get("ConfigMap", "-config");
    // Every other mounted secret file reads as a 40-character token.
    const files: Record<string, string> = {
      "/etc/rampart/secrets/database-url": "postgres://db.example.internal/rampart",
      "/etc/rampart/secrets/redis-url": "redis://redis.example.internal:6379",
    };
    const readFile = async (path: string) => files[path] ?? "x".repeat(40);
    const serverConfig = await parseConfig(cm.data["server.yaml"], "server.yaml", {}, { readFile });
    expect(serverConfig.secrets.root).toEqual({
      provider: "aws-kms",
      keyId: "alias/rampart",
      region: "eu-west-1",
    });
    // Deep merges: the user's identity settings and the chart's token secret both hold.
    expect(serverConfig.identity.sessions.idleTimeoutMinutes).toBe(15);
    expect(serverConfig.identity.tokens.secret).toBe("x".repeat(40));
    const gatewayConfig = await parseConfig(cm.data["gateway.yaml"], "gateway.yaml", {}, { readFile });
    expect(gatewayConfig.identity.sessions.idleTimeoutMinutes).toBe(15);
    expect(gatewayConfig.rbac.bindings).toEqual(serverConfig.rbac.bindings);
    // Server-only sections stay off the gateways.
    expect((parse(cm.data["gateway.yaml"] as string) as Obj).secrets).toBeUndefined();
  });

  it("roll the pods when the config changes (checksum/config)", async () => {
    const a = await render();
    const b = await render("--set", "environment=uat");
    const sum = (r: Rendered, c: string) =>
      r.get("Deployment", c).spec.template.metadata.annotations["checksum/config"] as string;
    for (const c of ["-server", "-gateway"]) {
      expect(sum(a, c)).toMatch(/^[0-9a-f]{64}$/);
      expect(sum(b, c)).not.toBe(sum(a, c));
      expect(sum(await render(), c)).toBe(sum(a, c));
    }
    // It is the hash of the rendered ConfigMap manifest, as Helm's include | sha256sum gives.
    const cmDoc = a.text.split("---\n").find((d) => d.includes("# Source: rampart/templates/configmap.yaml"));
    const body = cmDoc?.replace("# Source: rampart/templates/configmap.yaml\n", "") ?? "";
    expect(sum(a, "-server")).toBe(createHash("sha256").update(`${body.trimEnd()}\n`).digest("hex"));
  });

  it("are refused when malformed: a string replica count fails the Deployment schema", async () => {
    const r = await render();
    const d = structuredClone(r.get("Deployment", "-server"));
    expect(() => validate(d)).not.toThrow();
    d.spec.replicas = "3";
    expect(() => validate(d)).toThrow(/replicas/);
    const np = structuredClone(r.get("NetworkPolicy", "-default-deny"));
    np.spec.policyTypes = "Ingress";
    expect(() => validate(np)).toThrow();
    // And the renderer refuses what it cannot render instead of guessing.
    await expect(render("--set", "gateway.upstreams[0]=x")).rejects.toThrow(/lists are not supported/);
  });

  it("documents the command that makes the audit key file", () => {
    // test/cli-audit-keys.test.ts shows the command itself.
    const doc = readFileSync(join(root, "docs", "deploy.md"), "utf8");
    expect(doc).toMatch(/```sh\nnpx rampart audit keys init audit-keys\.json/);
  });
});

// ---- a small NetworkPolicy evaluator (networking.k8s.io/v1 semantics, TCP/UDP ports by number) ----

interface Pod {
  /** undefined: outside the cluster (matched only by ipBlock). */
  ns: { name: string; labels: Record<string, string> } | undefined;
  labels: Record<string, string>;
  ip: string;
}

function matches(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const ml = (selector.matchLabels ?? {}) as Record<string, string>;
  if (selector.matchExpressions?.length) throw new Error("matchExpressions are not evaluated by this test");
  return Object.entries(ml).every(([k, v]) => labels[k] === v);
}

function peerMatches(peer: Obj, policyNs: string, pod: Pod): boolean {
  if (peer.ipBlock) {
    const [range, bits] = ipaddr.parseCIDR(peer.ipBlock.cidr as string);
    const ip = ipaddr.parse(pod.ip);
    if (ip.kind() !== range.kind() || !ip.match(range, bits)) return false;
    return !(peer.ipBlock.except ?? []).some((e: string) => ip.match(ipaddr.parseCIDR(e)));
  }
  if (!pod.ns) return false;
  const nsOk = peer.namespaceSelector
    ? matches(peer.namespaceSelector, pod.ns.labels)
    : pod.ns.name === policyNs;
  return nsOk && (peer.podSelector ? matches(peer.podSelector, pod.labels) : true);
}

function ruleAllows(
  rule: Obj,
  peers: Obj[] | undefined,
  policyNs: string,
  other: Pod,
  port: number,
  protocol: string,
) {
  const portOk =
    !rule.ports?.length ||
    rule.ports.some(
      (p: Obj) => (p.protocol ?? "TCP") === protocol && (p.port === undefined || p.port === port),
    );
  const peerOk = !peers?.length || peers.some((p) => peerMatches(p, policyNs, other));
  return portOk && peerOk;
}

/** Whether one direction is allowed for `pod`: isolated pods need a rule that lets it through. */
function directionAllows(
  policies: Obj[],
  pod: Pod,
  dir: "Ingress" | "Egress",
  other: Pod,
  port: number,
  protocol: string,
) {
  if (!pod.ns) return true; // outside the cluster: not ours to judge
  const selecting = policies.filter(
    (p) =>
      p.metadata.namespace === pod.ns?.name &&
      matches(p.spec.podSelector, pod.labels) &&
      p.spec.policyTypes.includes(dir),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (dir === "Ingress" ? (p.spec.ingress ?? []) : (p.spec.egress ?? [])).some((rule: Obj) =>
      ruleAllows(
        rule,
        dir === "Ingress" ? rule.from : rule.to,
        p.metadata.namespace as string,
        other,
        port,
        protocol,
      ),
    ),
  );
}

function flowAllowed(policies: Obj[], from: Pod, to: Pod, port: number, protocol: string): boolean {
  return (
    directionAllows(policies, from, "Egress", to, port, protocol) &&
    directionAllows(policies, to, "Ingress", from, port, protocol)
  );
}

function mergeValues(dst: Obj, src: Obj): Obj {
  for (const [k, v] of Object.entries(src)) {
    if (v && typeof v === "object" && !Array.isArray(v) && dst[k] && typeof dst[k] === "object")
      mergeValues(dst[k], v);
    else dst[k] = v;
  }
  return dst;
}
