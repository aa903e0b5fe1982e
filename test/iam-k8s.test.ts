// Kubernetes RBAC least privilege against audit2rbac's demo log (../shared/eval/iam/k8s, or
// IAM_EVAL_DIR/k8s): alice's proposal equals audit2rbac's documented output, every observed request
// replays as allowed, --within-current never grants beyond the current RBAC; property tests over
// random rules and events; the CLI writes proposed and rollback manifests.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  addObservation,
  analyzeK8s,
  analyzePrincipal,
  createAuthorizer,
  emptyUsage,
  generateRoles,
  grantsAtom,
  manifestsYaml,
  parseRbac,
  type PolicyRule,
  type RbacObjects,
  type RbacRequest,
  readAuditLogs,
  readAuditStream,
  resolveAggregation,
  riskFlags,
  ruleAtoms,
  rulesFor,
  toPrincipalAnalysis,
} from "../src/identity/iam/k8s/index.ts";

const root = join(import.meta.dirname, "..");
const evalDir = join(process.env.IAM_EVAL_DIR ?? join(root, "../shared/eval/iam"), "k8s");
const demoLog = join(evalDir, "audit2rbac-demo.log");

const broadEdit = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: edit-ish}
rules:
- apiGroups: [""]
  resources: [pods, pods/exec, configmaps, secrets, services, nodes]
  verbs: ["*"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone-edits}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit-ish}
subjects:
- {kind: User, name: alice}
- {kind: User, name: bob}
- {kind: ServiceAccount, name: sa1, namespace: ns1}
`;

const sortRule = (r: PolicyRule) =>
  JSON.stringify({
    apiGroups: [...(r.apiGroups ?? [])].sort(),
    resources: [...(r.resources ?? [])].sort(),
    resourceNames: [...(r.resourceNames ?? [])].sort(),
    nonResourceURLs: [...(r.nonResourceURLs ?? [])].sort(),
    verbs: [...r.verbs].sort(),
  });

const req = (o: Partial<RbacRequest>): RbacRequest => ({
  user: "u",
  groups: [],
  verb: "get",
  resourceRequest: true,
  apiGroup: "",
  resource: "pods",
  subresource: "",
  namespace: "ns1",
  name: "",
  path: "",
  ...o,
});

describe("audit2rbac demo log", () => {
  it("proposes for alice exactly the rules audit2rbac documents", async () => {
    const usage = await readAuditLogs([demoLog], { user: "alice" });
    const [alice] = analyzeK8s(usage, parseRbac(broadEdit));
    const expected = parseRbac(await readFile(join(evalDir, "expected-alice-roles.yaml"), "utf8"));
    expect(alice?.proposed.clusterRoles).toEqual([]);
    expect(alice?.proposed.roles.map((r) => r.metadata.namespace)).toEqual(["ns1"]);
    expect(alice?.proposed.roles[0]?.rules.map(sortRule).sort()).toEqual(
      expected.roles[0]?.rules.map(sortRule).sort(),
    );
    const binding = alice?.proposed.roleBindings[0];
    expect(binding?.metadata.namespace).toBe("ns1");
    expect(binding?.subjects).toEqual(expected.roleBindings[0]?.subjects);
    expect(binding?.roleRef.kind).toBe("Role");
    // No wider than audit2rbac's: every atom of ours is granted by the expected objects.
    const expectedRules = rulesFor(expected, "alice", []);
    for (const e of rulesFor(alice?.proposed as RbacObjects, "alice", []))
      for (const a of ruleAtoms(e.rule, e.namespace)) expect(grantsAtom(expectedRules, a)).toBe(true);
    // The output is valid YAML in apply order.
    const docs = parseAllDocuments(manifestsYaml(alice?.proposed as RbacObjects));
    expect(Array.isArray(docs) && docs.map((d) => (d.toJS() as { kind: string }).kind)).toEqual([
      "Role",
      "RoleBinding",
    ]);
  });

  it("covers all 37 events (403s as intended use) and flags the broad grant's risks", async () => {
    const usage = await readAuditLogs([demoLog]);
    expect(usage.events).toBe(37);
    const results = analyzeK8s(usage, parseRbac(broadEdit));
    expect(results.map((a) => a.principal)).toEqual(["alice", "bob", "system:serviceaccount:ns1:sa1"]);
    for (const a of results) {
      expect(a.verification.denied).toEqual([]);
      expect(a.verification.replayed + 0).toBe(a.used.length);
      expect(a.risk.before.privesc.some((f) => f.includes("pods/exec"))).toBe(true);
      expect(a.risk.before.wildcard.length).toBeGreaterThan(0);
      expect(a.risk.after.privesc).toEqual([]);
      expect(a.reduction).toBeGreaterThan(0.5);
    }
    const bob = results[1];
    // Discovery paths are granted to every authenticated user already: nothing generated for them.
    expect(bob?.coveredByBaseline).toBe(23);
    expect(bob?.proposed.roles.map((r) => r.metadata.namespace)).toEqual(["default", "ns1"]);
    const sa = results[2];
    expect(sa?.proposed.clusterRoleBindings[0]?.subjects).toEqual([
      { kind: "ServiceAccount", name: "sa1", namespace: "ns1" },
    ]);
    expect(sa?.proposed.clusterRoles[0]?.rules.map(sortRule)).toEqual(
      [{ apiGroups: [""], resources: ["nodes", "pods"], verbs: ["get", "list", "watch"] }].map(sortRule),
    );
    expect(sa?.proposed.roles.map((r) => r.metadata.namespace)).toEqual([]); // list pods -n default is covered cluster-wide
    expect(sa?.rollback.clusterRoleBindings.map((b) => b.metadata.name)).toEqual(["everyone-edits"]);
  });

  it("--within-current grants only what the subject had; 403s are reported as attempted, denied", async () => {
    const current = parseRbac(`
kind: Role
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: pod-lister, namespace: default}
rules: [{apiGroups: [""], resources: [pods], verbs: [list]}]
---
kind: RoleBinding
apiVersion: rbac.authorization.k8s.io/v1
metadata: {name: bob-pods, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-lister}
subjects: [{kind: User, name: bob}]
`);
    const usage = await readAuditLogs([demoLog], { user: "bob" });
    const [bob] = analyzeK8s(usage, current, { withinCurrent: true });
    expect(bob?.proposed.roles.map((r) => [r.metadata.namespace, r.rules])).toEqual([
      ["default", [{ apiGroups: [""], resources: ["pods"], verbs: ["list"] }]],
    ]);
    expect(bob?.verification.beyondCurrent).toEqual([]);
    expect(bob?.verification.denied).toEqual([]);
    expect(bob?.attemptedDenied).toEqual([
      "list nodes (cluster-wide): attempted, denied",
      "list pods -n ns1: attempted, denied",
    ]);
    expect(bob?.widened).toEqual([]); // get/watch were not in the current grants
    const shared = toPrincipalAnalysis(bob as NonNullable<typeof bob>);
    expect(shared.platform).toBe("k8s");
    expect(shared.used.map((u) => u.permission)).toContain("list pods");
    expect(shared.denied.map((d) => [d.permission, d.resources])).toEqual([
      ["list nodes", ["*/*"]],
      ["list pods", ["ns1/*"]],
    ]);
    expect(shared.verification.proposed.denied).toEqual([]);
    expect(shared.reductionPercent).toBe(0);
  });
});

describe("RBAC objects and matching", () => {
  it("reads multi-document YAML, JSON Lists and resolves aggregated ClusterRoles from labels", () => {
    const objs = parseRbac(`
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: monitoring}
  aggregationRule:
    clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-monitoring: "true"}}]
  rules: []
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: monitoring-endpoints, labels: {rbac.example.com/aggregate-to-monitoring: "true"}}
  rules: [{apiGroups: [""], resources: [services, endpoints, pods], verbs: [get, list, watch]}]
---
{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"m"},
 "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"monitoring"},
 "subjects":[{"kind":"Group","name":"sre"}]}
`);
    expect(objs.clusterRoles).toHaveLength(2);
    expect(objs.clusterRoles.find((c) => c.metadata.name === "monitoring")?.rules).toEqual([]);
    const allow = createAuthorizer(resolveAggregation(objs));
    expect(allow(req({ user: "x", groups: ["sre"], verb: "list", resource: "endpoints" }))).toBe(true);
    expect(allow(req({ user: "x", groups: ["sre"], verb: "delete", resource: "endpoints" }))).toBe(false);
    expect(allow(req({ user: "x", groups: ["dev"], verb: "list", resource: "endpoints" }))).toBe(false);
  });

  it("aggregation, subresources, */scale, resourceNames and nonResourceURL prefixes match like the API server", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rbac-"));
    try {
      await writeFile(
        join(dir, "a.yaml"),
        `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule: {clusterRoleSelectors: [{matchExpressions: [{key: agg, operator: Exists}]}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {agg: "yes"}}
rules:
- {apiGroups: [""], resources: [pods/exec], verbs: [create]}
- {apiGroups: ["apps"], resources: ["*/scale"], verbs: [update]}
- {apiGroups: [""], resources: [configmaps], resourceNames: [app-config], verbs: [get]}
- {nonResourceURLs: ["/metrics", "/debug/*"], verbs: [get]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rb, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg}
subjects: [{kind: ServiceAccount, name: deployer}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: crb}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: agg}
subjects: [{kind: User, name: ops}]
`,
      );
      const { loadRbac } = await import("../src/identity/iam/k8s/index.ts");
      const objs = await loadRbac([dir]);
      expect(objs.clusterRoles.find((c) => c.metadata.name === "agg")?.rules).toHaveLength(4);
      const allow = createAuthorizer(objs);
      const sa = { user: "system:serviceaccount:team:deployer", namespace: "team" };
      expect(allow(req({ ...sa, verb: "create", subresource: "exec", name: "p" }))).toBe(true);
      expect(allow(req({ ...sa, verb: "create", name: "p" }))).toBe(false); // pods ≠ pods/exec
      expect(allow(req({ ...sa, verb: "create", subresource: "exec", namespace: "other" }))).toBe(false);
      expect(
        allow(
          req({ ...sa, verb: "update", apiGroup: "apps", resource: "deployments", subresource: "scale" }),
        ),
      ).toBe(true);
      expect(allow(req({ ...sa, resource: "configmaps", name: "app-config" }))).toBe(true);
      expect(allow(req({ ...sa, resource: "configmaps", name: "other" }))).toBe(false);
      expect(allow(req({ ...sa, verb: "list", resource: "configmaps" }))).toBe(false);
      // nonResourceURLs apply through ClusterRoleBindings only.
      const url = (user: string, path: string) => req({ user, resourceRequest: false, path, namespace: "" });
      expect(allow(url(sa.user, "/metrics"))).toBe(false);
      expect(allow(url("ops", "/metrics"))).toBe(true);
      expect(allow(url("ops", "/debug/pprof/heap"))).toBe(true);
      expect(allow(url("ops", "/debugger"))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects malformed RBAC objects with where it failed", () => {
    expect(() => parseRbac("kind: Role\nmetadata: {name: r}\nrules: []\n", "bad.yaml")).toThrow(
      /bad.yaml.*namespace/,
    );
    expect(() => parseRbac("kind: RoleBinding\nmetadata: {name: b, namespace: n}\n", "b.yaml")).toThrow(
      /roleRef/,
    );
    expect(() => parseRbac("kind: [\n", "c.yaml")).toThrow(/c.yaml/);
  });

  it("flags secrets, escalate/bind/impersonate, exec/attach, nodes/proxy, create pods and wildcards", () => {
    const objs = parseRbac(`
kind: ClusterRole
metadata: {name: risky}
rules:
- {apiGroups: [""], resources: [secrets], resourceNames: [db], verbs: [get]}
- {apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind, escalate]}
- {apiGroups: [""], resources: [users], verbs: [impersonate]}
- {apiGroups: [""], resources: [pods/attach, nodes/proxy], verbs: [get]}
- {apiGroups: [apps], resources: [deployments], verbs: [create]}
- {apiGroups: ["*"], resources: ["*"], verbs: [list]}
---
kind: ClusterRoleBinding
metadata: {name: r}
roleRef: {kind: ClusterRole, name: risky}
subjects: [{kind: User, name: eve}]
`);
    const f = riskFlags(rulesFor(objs, "eve", []));
    const all = (xs: string[]) => xs.join("\n");
    expect(all(f.dataAccess)).toMatch(/get secrets/);
    expect(all(f.dataAccess)).toMatch(/list secrets/); // through the wildcard rule
    expect(all(f.credentialsExposure)).toMatch(/secrets/);
    expect(all(f.privesc)).toMatch(/bind clusterroles/);
    expect(all(f.privesc)).toMatch(/escalate clusterroles/);
    expect(all(f.privesc)).toMatch(/impersonate users/);
    expect(all(f.privesc)).toMatch(/get pods\/attach/);
    expect(all(f.privesc)).toMatch(/nodes\/proxy/);
    expect(all(f.privesc)).toMatch(/create deployments/);
    expect(all(f.wildcard)).toMatch(/apiGroups, resources/);
  });
});

describe("generation options", () => {
  const usageOf = (reqs: [Partial<RbacRequest>, number][]) => {
    const usage = emptyUsage();
    for (const [r, code] of reqs)
      addObservation(usage, req({ user: "dev", ...r }), code, "2026-01-01T00:00:00Z");
    return usage.principals.get("dev");
  };

  it("one name stays in resourceNames; several collapse to an unnamed rule unless --expand-multi-name=false", () => {
    const one = usageOf([[{ verb: "get", resource: "configmaps", name: "a" }, 200]]);
    const two = usageOf([
      [{ verb: "get", resource: "configmaps", name: "a" }, 200],
      [{ verb: "get", resource: "configmaps", name: "b" }, 200],
    ]);
    const rules = (u: typeof one, o = {}) =>
      analyzePrincipal(u as NonNullable<typeof one>, parseRbac(""), o).proposed.roles[0]?.rules;
    expect(rules(one)).toEqual([
      { apiGroups: [""], resources: ["configmaps"], resourceNames: ["a"], verbs: ["get"] },
    ]);
    expect(rules(two)).toEqual([{ apiGroups: [""], resources: ["configmaps"], verbs: ["get"] }]);
    expect(rules(two, { expandMultiName: false })).toEqual([
      { apiGroups: [""], resources: ["configmaps"], resourceNames: ["a", "b"], verbs: ["get"] },
    ]);
  });

  it("verb expansion is on by default and can be turned off; update→get,patch", () => {
    const u = usageOf([
      [{ verb: "update", apiGroup: "apps", resource: "deployments", name: "web" }, 200],
      [{ verb: "list", resource: "pods" }, 200],
    ]) as NonNullable<ReturnType<typeof usageOf>>;
    const on = analyzePrincipal(u, parseRbac("")).proposed.roles[0]?.rules;
    expect(on).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
      {
        apiGroups: ["apps"],
        resources: ["deployments"],
        resourceNames: ["web"],
        verbs: ["get", "patch", "update"],
      },
    ]);
    const off = analyzePrincipal(u, parseRbac(""), { expandVerbs: false }).proposed.roles[0]?.rules;
    expect(off).toEqual([
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["web"], verbs: ["update"] },
    ]);
  });

  it("--expand-multi-namespace turns the same request in two namespaces into a ClusterRole", () => {
    const u = usageOf([
      [{ verb: "get", resource: "pods", namespace: "a", name: "x" }, 200],
      [{ verb: "get", resource: "pods", namespace: "b", name: "x" }, 200],
    ]) as NonNullable<ReturnType<typeof usageOf>>;
    expect(analyzePrincipal(u, parseRbac("")).proposed.roles.map((r) => r.metadata.namespace)).toEqual([
      "a",
      "b",
    ]);
    const wide = analyzePrincipal(u, parseRbac(""), { expandMultiNamespace: true }).proposed;
    expect(wide.roles).toEqual([]);
    expect(wide.clusterRoles[0]?.rules).toEqual([
      { apiGroups: [""], resources: ["pods"], resourceNames: ["x"], verbs: ["get"] },
    ]);
  });
});

describe("audit log reading", () => {
  it("streams .gz, skips early stages, 401s and other kinds, and reports lines that are not JSON", async () => {
    const ev = (o: object) =>
      JSON.stringify({
        kind: "Event",
        stage: "ResponseComplete",
        verb: "get",
        requestURI: "/api/v1/namespaces/n/pods/p",
        user: { username: "carol", groups: ["devs"] },
        objectRef: { resource: "pods", namespace: "n", name: "p" },
        responseStatus: { code: 200 },
        stageTimestamp: "2026-01-01T00:00:00Z",
        ...o,
      });
    const lines = [
      ev({}),
      ev({ stage: "RequestReceived" }),
      ev({ responseStatus: { code: 401 } }),
      ev({ kind: "Policy" }),
      "{not json",
      ev({ responseStatus: { code: 403 }, stageTimestamp: "2026-01-02T00:00:00Z" }),
      ev({ objectRef: undefined, requestURI: "/healthz?verbose=1" }),
    ].join("\n");
    const dir = await mkdtemp(join(tmpdir(), "audit-"));
    try {
      await writeFile(join(dir, "audit.log.gz"), gzipSync(lines));
      const usage = await readAuditLogs([dir]);
      expect(usage.events).toBe(3);
      expect(usage.malformed).toEqual([{ where: join(dir, "audit.log.gz") + ":5", reason: "not JSON" }]);
      const carol = usage.principals.get("carol");
      expect(carol?.groups).toEqual(["devs"]);
      expect([carol?.first, carol?.last]).toEqual(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"]);
      const get = [...(carol?.requests.values() ?? [])].find((o) => o.request.resourceRequest);
      expect([get?.count, get?.allowed, get?.denied]).toEqual([2, 1, 1]);
      const url = [...(carol?.requests.values() ?? [])].find((o) => !o.request.resourceRequest);
      expect(url?.request.path).toBe("/healthz");
      await expect(readAuditLogs([join(dir, "missing.log")])).rejects.toThrow(/no such file/);
      await writeFile(join(dir, "broken.log.gz"), "not gzip at all");
      await expect(readAuditLogs([join(dir, "broken.log.gz")])).rejects.toThrow(/broken.log.gz/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("keeps one entry per distinct request, however many events", async () => {
    const line = JSON.stringify({
      kind: "Event",
      stage: "ResponseComplete",
      verb: "list",
      user: { username: "ci" },
      objectRef: { resource: "pods", namespace: "n" },
      responseStatus: { code: 200 },
    });
    const usage = emptyUsage();
    await readAuditStream(Readable.from(Array.from({ length: 20_000 }, () => `${line}\n`)), "mem", usage);
    expect(usage.events).toBe(20_000);
    expect(usage.principals.get("ci")?.requests.size).toBe(1);
  });
});

// Property tests: random RBAC and random requests over a small alphabet, so a fresh name or
// namespace ("other") stands for every value the generator did not draw.
const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"];
const GROUPS = ["", "apps"];
const RESOURCES = ["pods", "pods/exec", "secrets", "deployments"];
const NAMESPACES = ["a", "b"];
const NAMES = ["x", "y"];
const URLS = ["/metrics", "/logs", "/logs/kube"];

const ruleArb: fc.Arbitrary<PolicyRule> = fc.oneof(
  fc.record(
    {
      verbs: fc.subarray([...VERBS, "*"], { minLength: 1 }),
      apiGroups: fc.subarray([...GROUPS, "*"], { minLength: 1 }),
      resources: fc.subarray([...RESOURCES, "*", "*/exec"], { minLength: 1 }),
      resourceNames: fc.subarray(NAMES),
    },
    { requiredKeys: ["verbs", "apiGroups", "resources"] },
  ),
  fc.record({
    verbs: fc.subarray(["get", "*"], { minLength: 1 }),
    nonResourceURLs: fc.subarray([...URLS, "/logs*", "*"], { minLength: 1 }),
  }),
);

const currentArb = fc
  .record({
    cluster: fc.array(ruleArb, { maxLength: 3 }),
    ns: fc.array(fc.tuple(fc.constantFrom(...NAMESPACES), fc.array(ruleArb, { maxLength: 3 })), {
      maxLength: 2,
    }),
  })
  .map(({ cluster, ns }): RbacObjects => {
    const meta = { apiGroup: "rbac.authorization.k8s.io" } as const;
    const subjects = [{ kind: "User" as const, name: "dev" }];
    return {
      clusterRoles: [
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: "c" },
          rules: cluster,
        },
      ],
      clusterRoleBindings: [
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: "c" },
          roleRef: { ...meta, kind: "ClusterRole", name: "c" },
          subjects,
        },
      ],
      roles: ns.map(([n, rules], i) => ({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role" as const,
        metadata: { name: `r${i}`, namespace: n },
        rules,
      })),
      roleBindings: ns.map(([n], i) => ({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding" as const,
        metadata: { name: `r${i}`, namespace: n },
        roleRef: { ...meta, kind: "Role" as const, name: `r${i}` },
        subjects,
      })),
    };
  });

const requestArb: fc.Arbitrary<RbacRequest> = fc.oneof(
  fc
    .record({
      verb: fc.constantFrom(...VERBS),
      apiGroup: fc.constantFrom(...GROUPS),
      resource: fc.constantFrom(...RESOURCES),
      namespace: fc.constantFrom("", ...NAMESPACES),
      name: fc.constantFrom("", ...NAMES),
    })
    .map(({ resource, ...r }) => {
      const [res, sub] = resource.split("/") as [string, string | undefined];
      return req({ ...r, user: "dev", resource: res, subresource: sub ?? "" });
    }),
  fc
    .record({ verb: fc.constantFrom("get", "post"), path: fc.constantFrom(...URLS) })
    .map((r) => req({ ...r, user: "dev", resourceRequest: false, resource: "", namespace: "" })),
);

/** Every request in the finite universe (plus fresh "other" values) that a rule set allows. */
function universe(): RbacRequest[] {
  const out: RbacRequest[] = [];
  for (const verb of [...VERBS, "deletecollection"])
    for (const apiGroup of [...GROUPS, "batch"])
      for (const resource of [...RESOURCES, "configmaps", "deployments/scale"])
        for (const namespace of ["", ...NAMESPACES, "other"])
          for (const name of ["", ...NAMES, "other"]) {
            const [res, sub] = resource.split("/") as [string, string | undefined];
            out.push(
              req({ user: "dev", verb, apiGroup, resource: res, subresource: sub ?? "", namespace, name }),
            );
          }
  for (const verb of ["get", "post"])
    for (const path of [...URLS, "/logsx", "/other"])
      out.push(req({ user: "dev", verb, resourceRequest: false, resource: "", namespace: "", path }));
  return out;
}
const ALL = universe();

describe("properties (fast-check)", () => {
  it("the proposal allows every observed request, 403s included (audit2rbac mode)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(requestArb, fc.boolean()), { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (events, expandVerbs, expandMultiName, expandMultiNamespace) => {
          const usage = emptyUsage();
          for (const [r, ok] of events) addObservation(usage, r, ok ? 200 : 403, "t");
          const a = analyzePrincipal(
            usage.principals.get("dev") as NonNullable<ReturnType<typeof usage.principals.get>>,
            parseRbac(""),
            {
              expandVerbs,
              expandMultiName,
              expandMultiNamespace,
            },
          );
          const allow = createAuthorizer(a.proposed);
          for (const [r] of events) expect(allow(r)).toBe(true);
          expect(a.verification.denied).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("--within-current: allows every observed allowed request and grants nothing the original did not", () => {
    fc.assert(
      fc.property(
        currentArb,
        fc.array(fc.tuple(requestArb, fc.boolean()), { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        (current, events, expandVerbs, expandMultiName, expandMultiNamespace) => {
          const before = createAuthorizer(current);
          const usage = emptyUsage();
          // The API server's outcome follows the current grants; some allowed calls also saw a 403 (retries, races).
          for (const [r, flaky] of events) {
            addObservation(usage, r, before(r) ? 200 : 403, "t");
            if (flaky) addObservation(usage, r, 403, "t");
          }
          const a = analyzePrincipal(
            usage.principals.get("dev") as NonNullable<ReturnType<typeof usage.principals.get>>,
            current,
            {
              withinCurrent: true,
              discoveryBaseline: false,
              expandVerbs,
              expandMultiName,
              expandMultiNamespace,
            },
          );
          const after = createAuthorizer(a.proposed);
          for (const [r] of events) if (before(r)) expect(after(r)).toBe(true);
          for (const r of ALL) if (after(r)) expect(before(r)).toBe(true);
          expect(a.verification.beyondCurrent).toEqual([]);
          expect(a.verification.denied).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("generation is deterministic: the same events in any order give the same manifests", () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 1, maxLength: 15 }), (events) => {
        const gen = (list: RbacRequest[]) =>
          manifestsYaml(
            generateRoles(
              "dev",
              [],
              list.map((request) => ({ request, allowed: true })),
            ).objects,
          );
        expect(gen([...events].reverse())).toBe(gen(events));
      }),
      { numRuns: 100 },
    );
  });
});

describe("rampart iam k8s analyze", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "iam-k8s-cli-"));
    await writeFile(join(dir, "rbac.yaml"), broadEdit);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const script = `import { Command } from "commander";
import { registerK8sIam } from ${JSON.stringify(join(root, "src/cli/iam-k8s.ts"))};
const program = new Command("rampart").exitOverride();
registerK8sIam(program.command("iam"));
try { await program.parseAsync(process.argv.slice(1), { from: "user" }); }
catch (err) { if (!err.code?.startsWith?.("commander.")) process.stderr.write(String(err.message) + "\\n"); process.exitCode = process.exitCode || 1; }`;
      execFile(
        process.execPath,
        ["--input-type=module", "-e", script, "iam", "k8s", "analyze", ...args],
        { cwd: root },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it("writes proposed and rollback manifests and prints a table", async () => {
    const out = join(dir, "out");
    const r = await cli([
      "--rbac",
      join(dir, "rbac.yaml"),
      "--audit",
      demoLog,
      "--serviceaccount",
      "ns1:sa1",
      "--out-dir",
      out,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PRINCIPAL\s+USED/);
    expect(r.stdout).toContain("system:serviceaccount:ns1:sa1");
    const proposed = await readFile(join(out, "system_serviceaccount_ns1_sa1.proposed.yaml"), "utf8");
    expect(proposed).toContain("kind: ClusterRole\n");
    expect(proposed).toContain("name: rampart:sa1");
    const rollback = await readFile(join(out, "system_serviceaccount_ns1_sa1.rollback.yaml"), "utf8");
    expect(rollback).toContain("name: everyone-edits");
    expect(rollback).toContain("name: edit-ish");
  });

  it("--format yaml prints alice's Role; --format json the full analysis", async () => {
    const y = await cli(["--audit", demoLog, "--user", "alice", "--format", "yaml"]);
    expect(y.code).toBe(0);
    expect(y.stdout).toContain("kind: Role\n");
    const j = await cli([
      "--audit",
      demoLog,
      "--user",
      "bob",
      "--format",
      "json",
      "--rbac",
      join(dir, "rbac.yaml"),
      "--within-current",
    ]);
    expect(j.code).toBe(0);
    const [bob] = JSON.parse(j.stdout) as { principal: string; verification: { beyondCurrent: string[] } }[];
    expect(bob?.principal).toBe("bob");
    expect(bob?.verification.beyondCurrent).toEqual([]);
  });

  it("refuses bad arguments and says why", async () => {
    const sa = await cli(["--audit", "x.log", "--serviceaccount", "nonamespace"]);
    expect(sa.code).not.toBe(0);
    expect(sa.stderr).toMatch(/<namespace>:<name>/);
    const within = await cli(["--audit", "x.log", "--within-current"]);
    expect(within.stderr).toMatch(/--within-current needs --rbac/);
    const missing = await cli(["--audit", join(dir, "nope.log")]);
    expect(missing.stderr).toMatch(/no such file/);
  });
});
