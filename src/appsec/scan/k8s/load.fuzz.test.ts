// Fuzzing the Kubernetes manifest reader and checks: manifests come from pull requests, helm
// templates and kustomize output. The contract: a stream parses or is refused with Invalid naming
// `file:line:col`; every check copes with any shape a document may have; each scan is quick.
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it, vi } from "vitest";
import { Invalid } from "../../../platform/errors.ts";
import { parseManifests, scanManifests } from "./index.ts";
import {
  aliasBomb,
  paths,
  replaced,
  hostileValue as hostile,
  textEdits,
  timed,
  boundFor,
} from "../../../../test/support/fuzz.ts";

// Hundreds of inputs per property: on a loaded 2-core CI they need more than the default 30 s.
vi.setConfig({ testTimeout: 120_000 });

// Our own manifests: a workload with most fields the checks read, RBAC, a policy, a helm comment.
const sampleDocs = [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "shop", labels: { app: "web" } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: {
          serviceAccountName: "web",
          hostNetwork: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 20000,
            seccompProfile: { type: "RuntimeDefault" },
          },
          volumes: [
            { name: "tmp", emptyDir: {} },
            { name: "host", hostPath: { path: "/var/run" } },
          ],
          initContainers: [{ name: "init", image: "busybox:1.36", command: ["sh", "-c", "true"] }],
          containers: [
            {
              name: "app",
              image: "registry.example/web:1.2.3",
              ports: [{ containerPort: 8080, hostPort: 80 }],
              env: [{ name: "PASSWORD", value: "hunter2" }],
              resources: {
                requests: { cpu: "100m", memory: "128Mi" },
                limits: { cpu: "500m", memory: "256Mi" },
              },
              readinessProbe: { httpGet: { path: "/ready", port: 8080 } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"], add: ["NET_ADMIN"] },
              },
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "web-admin" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: "web", namespace: "shop" }],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "secrets", namespace: "shop" },
    rules: [{ apiGroups: [""], resources: ["secrets", "*"], verbs: ["get", "list", "*"] }],
  },
  {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "default-deny", namespace: "shop" },
    spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
  },
  {
    apiVersion: "v1",
    kind: "List",
    items: [{ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "web", namespace: "shop" } }],
  },
];
const sampleText = sampleDocs
  .map((d, i) => `---\n${i === 0 ? "# Source: shop/templates/web.yaml\n" : ""}${stringify(d)}`)
  .join("");

/** Scans `text`: it must give a result or throw Invalid at `m.yaml:line:col` in the text, quickly. */
function scansOrInvalid(text: string, kubeScore: boolean): void {
  const run = () => {
    try {
      const result = scanManifests(text, {
        file: "m.yaml",
        ...(kubeScore ? { profile: "kube-score" as const } : {}),
      });
      for (const f of result.findings) {
        expect(f.fingerprint).toMatch(/^[0-9a-f]{16}$/);
        if (f.location.line !== undefined) expect(f.location.line).toBeGreaterThanOrEqual(1);
      }
    } catch (error) {
      if (!(error instanceof Invalid)) throw error;
      const at = /^m\.yaml:(\d+):(\d+)$/.exec(error.where ?? "");
      expect(at, `Invalid at ${error.where}`).not.toBeNull();
      expect(Number(at?.[1])).toBeLessThanOrEqual(text.split("\n").length);
    }
  };
  timed("one call", run, boundFor(text));
}

const hostileValue = hostile({
  strings: [
    "",
    "*",
    "ALL",
    "SYS_ADMIN",
    "cluster-admin",
    "__proto__",
    "constructor",
    "0",
    "/",
    "latest",
    "Pod",
  ],
  keys: ["containers", "spec", "kind", "metadata", "name"],
  scalars: [1e308, -1, 0, 2 ** 53 + 1, 0.5, 65536, null, true, false],
});

type Json = unknown;
const allPaths = paths(sampleDocs).slice(1); // not the root: the stream stays a list of documents
const treeMutated = fc
  .array(fc.tuple(fc.nat({ max: allPaths.length - 1 }), hostileValue), { minLength: 1, maxLength: 4 })
  .map((edits) => {
    const docs = edits.reduce(
      (d, [i, value]) => replaced(d, allPaths[i] as (string | number)[], value),
      sampleDocs as Json,
    );
    return (docs as Json[]).map((d) => `---\n${stringify(d)}`).join("");
  });

const textMutated = textEdits(sampleText, {
  flips: fc.constantFrom(
    "\0",
    "\t",
    ":",
    "-",
    " ",
    "&a",
    "*a",
    "<<: *a\n",
    "{",
    "[",
    "'",
    "\ud800",
    "---\n",
    "x",
  ),
  maxCut: 80,
  maxDup: 200,
});

describe("scanManifests", () => {
  it("scans the sample (the base the mutations below start from)", () => {
    const result = scanManifests(sampleText, { file: "m.yaml" });
    expect(result.stats.documents).toBe(5);
    expect(result.findings.length).toBeGreaterThan(0);
    expect(result.findings.some((f) => f.location.file === "shop/templates/web.yaml")).toBe(true);
  });

  it("scans or refuses manifests with hostile values anywhere", () => {
    fc.assert(fc.property(treeMutated, fc.boolean(), scansOrInvalid), { numRuns: 1500 });
  });

  it("scans or refuses manifests with flipped, cut or duplicated text", () => {
    fc.assert(fc.property(textMutated, fc.boolean(), scansOrInvalid), { numRuns: 800 });
  });

  it("refuses arbitrary text, alias bombs and deep nesting with a position", () => {
    const bomb = (levels: number) => `apiVersion: v1\nkind: Pod\n${aliasBomb(levels)}`;
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: "binary" }),
      fc.integer({ min: 1, max: 9 }).map(bomb),
      fc
        .tuple(
          fc.constantFrom("[", "{a: ", "- ", "---\n", "a:\n ", "? "),
          fc.integer({ min: 1, max: 16_000 }),
        )
        .map(([unit, n]) => `kind: Pod\nspec: ${unit.repeat(n)}`.slice(0, 64 * 1024)),
    );
    fc.assert(fc.property(text, fc.boolean(), scansOrInvalid), { numRuns: 300 });
  });

  // The cases the properties above shrink to.
  it("refuses an alias to an anchor never set with Invalid", () => {
    scansOrInvalid("*a\n", false);
    scansOrInvalid("kind: Pod\nspec: *a\n", false);
  });

  it("scans a resource whose kind is an Object.prototype key", () => {
    for (const kind of ["toString", "constructor", "hasOwnProperty", "__proto__"])
      scansOrInvalid(`apiVersion: v1\nkind: ${kind}\nspec: {}\n`, false);
  });

  it("refuses an alias bomb past the alias limit with Invalid", () => {
    scansOrInvalid(`apiVersion: v1\nkind: Pod\n${aliasBomb(3)}`, false);
  });

  it("parses every document a stream of valid documents holds", () => {
    fc.assert(
      fc.property(fc.array(hostileValue, { maxLength: 5 }), (docs) => {
        const text = docs.map((d) => `---\n${stringify(d)}`).join("");
        const parsed = parseManifests(text, "m.yaml");
        expect(parsed.length).toBeLessThanOrEqual(docs.length);
      }),
      { numRuns: 500 },
    );
  });
});
