// What every check sees: resources found in the documents, pod specs found in workloads, and the
// helpers that read Kubernetes semantics (selectors, quantities, image references).
import type { ScanSeverity } from "../../types.ts";
import type { K8sRuleId } from "../cis.ts";
import type { NodePath, ParsedDoc } from "../load.ts";

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
export const obj = (v: unknown): Obj => (isObj(v) ? v : {});
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** One Kubernetes object of a document (a document, or one item of a `kind: List`). */
export interface Resource {
  doc: ParsedDoc;
  /** Where the object sits inside its document (`[]`, or `["items", 3]`). */
  base: NodePath;
  obj: Obj;
  apiVersion: string;
  kind: string;
  name: string;
  /** As written; "" when unset (the namespace kubectl or helm applies). */
  namespace: string;
  /** `Kind/namespace/name` (namespace shown as written, empty for cluster-scoped or unset). */
  id: string;
}

/** A pod spec inside a Pod or a workload's pod template. */
export interface PodWorkload {
  res: Resource;
  /** Path of the pod spec inside the resource. */
  specPath: NodePath;
  spec: Obj;
  /** The pod's metadata (template metadata for workloads). */
  meta: Obj;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  namespace: string;
  /** Jobs and CronJobs run to completion: probes do not apply. */
  runsToCompletion: boolean;
}

export interface Hit {
  rule: K8sRuleId;
  res: Resource;
  /** Path inside the resource of the offending field (or the nearest existing parent). */
  path: NodePath;
  /** Overrides the rule's default title / severity when the case is worse or milder. */
  title?: string;
  severity?: ScanSeverity;
  details?: Record<string, string | number | boolean | null>;
}

export type Profile = "rampart" | "kube-score";

export interface KubeScoreOptions {
  /** kube-score optional checks to run (`container-seccomp-profile`, `container-resource-requests-equal-limits`…). */
  enabledOptional?: string[];
  ignoreContainerCpuLimit?: boolean;
  ignoreContainerMemoryLimit?: boolean;
}

export interface K8sCheckOptions {
  /** `rampart` (default) or `kube-score` (kube-score's semantics for the checks both tools have). */
  profile?: Profile;
  /** Optional Rampart checks: `ephemeral-storage`, `requests-equal-limits`. */
  optional?: string[];
  kubeScore?: KubeScoreOptions;
  /** Rule ids not to run. */
  skip?: string[];
}

export interface CheckContext {
  options: K8sCheckOptions;
  resources: Resource[];
  workloads: PodWorkload[];
  /** ServiceAccounts by `namespace/name`. */
  serviceAccounts: Map<string, Resource>;
  hit(h: Hit): void;
}

const podSpecPaths: Record<string, NodePath> = {
  Pod: ["spec"],
  Deployment: ["spec", "template", "spec"],
  StatefulSet: ["spec", "template", "spec"],
  DaemonSet: ["spec", "template", "spec"],
  ReplicaSet: ["spec", "template", "spec"],
  ReplicationController: ["spec", "template", "spec"],
  Job: ["spec", "template", "spec"],
  CronJob: ["spec", "jobTemplate", "spec", "template", "spec"],
};

export function getIn(v: unknown, path: NodePath): unknown {
  let cur = v;
  for (const k of path) {
    if (typeof k === "number") cur = Array.isArray(cur) ? cur[k] : undefined;
    else cur = isObj(cur) ? cur[k] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

// Null prototype: label keys are the manifest's, and `labels[k]` must not find Object.prototype members.
const stringMap = (v: unknown): Record<string, string> => {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, x] of Object.entries(obj(v))) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
};

/** The Kubernetes objects in parsed documents; documents without apiVersion and kind are skipped. */
export function resourcesOf(docs: ParsedDoc[]): Resource[] {
  const out: Resource[] = [];
  const add = (doc: ParsedDoc, base: NodePath, v: unknown) => {
    if (!isObj(v)) return;
    const kind = str(v.kind);
    const apiVersion = str(v.apiVersion);
    if (!kind || !apiVersion) return;
    if (kind === "List" || (kind.endsWith("List") && Array.isArray(v.items))) {
      list(v.items).forEach((item, i) => add(doc, [...base, "items", i], item));
      return;
    }
    const meta = obj(v.metadata);
    const name = str(meta.name) ?? str(meta.generateName) ?? "";
    const namespace = str(meta.namespace) ?? "";
    out.push({ doc, base, obj: v, apiVersion, kind, name, namespace, id: `${kind}/${namespace}/${name}` });
  };
  for (const d of docs) add(d, [], d.value);
  return out;
}

/** Pod specs of Pods and workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController). */
export function workloadsOf(resources: Resource[]): PodWorkload[] {
  const out: PodWorkload[] = [];
  for (const res of resources) {
    // `kind` is the manifest's: an own-key lookup, so `toString` or `__proto__` is just not a workload.
    const specPath = Object.hasOwn(podSpecPaths, res.kind) ? podSpecPaths[res.kind] : undefined;
    if (!specPath) continue;
    const spec = getIn(res.obj, specPath);
    if (!isObj(spec)) continue;
    const meta =
      res.kind === "Pod"
        ? obj(res.obj.metadata)
        : obj(getIn(res.obj, [...specPath.slice(0, -1), "metadata"]));
    out.push({
      res,
      specPath,
      spec,
      meta,
      labels: stringMap(meta.labels),
      annotations: Object.assign(stringMap(obj(res.obj.metadata).annotations), stringMap(meta.annotations)),
      namespace: str(meta.namespace) ?? res.namespace,
      runsToCompletion: res.kind === "Job" || res.kind === "CronJob",
    });
  }
  return out;
}

export interface ContainerRef {
  c: Obj;
  path: NodePath;
  init: boolean;
  name: string;
}

/** Init containers then containers, with their paths inside the resource. */
export function containersOf(w: PodWorkload): ContainerRef[] {
  const out: ContainerRef[] = [];
  for (const [key, init] of [
    ["initContainers", true],
    ["containers", false],
  ] as const) {
    list(w.spec[key]).forEach((c, i) => {
      if (isObj(c)) out.push({ c, path: [...w.specPath, key, i], init, name: str(c.name) ?? `#${i}` });
    });
  }
  return out;
}

/** Label selector semantics (matchLabels and matchExpressions); an empty selector selects everything. */
export function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return false;
  for (const k of Object.keys(selector)) if (k !== "matchLabels" && k !== "matchExpressions") return false;
  for (const [k, v] of Object.entries(obj(selector.matchLabels))) if (labels[k] !== String(v)) return false;
  for (const e of list(selector.matchExpressions)) {
    const x = obj(e);
    const key = str(x.key) ?? "";
    const values = list(x.values).map(String);
    const has = Object.hasOwn(labels, key);
    switch (x.operator) {
      case "In":
        if (!has || !values.includes(labels[key] ?? "")) return false;
        break;
      case "NotIn":
        if (has && values.includes(labels[key] ?? "")) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** A plain `key: value` selector (Services, ReplicationControllers): every key must match; empty selects nothing. */
export function mapSelectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  const entries = Object.entries(obj(selector));
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === String(v));
}

const suffixes: Record<string, number> = {
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A resource quantity (`200m`, `1Gi`, `1e3`) as a number; undefined when absent or unreadable. */
export function quantity(v: unknown): number | undefined {
  if (typeof v === "number") return v;
  if (typeof v !== "string") return undefined;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "";
  const f = unit === "" ? 1 : Object.hasOwn(suffixes, unit) ? suffixes[unit] : undefined;
  return f === undefined || Number.isNaN(n) ? undefined : n * f;
}

/** A quantity that is set and non-zero. */
export const quantitySet = (v: unknown): boolean => (quantity(v) ?? 0) !== 0;

export interface ImageRef {
  tag: string;
  digest: string;
}

/** Tag and digest of an image reference (a registry port is not a tag). */
export function imageRef(image: string): ImageRef {
  const at = image.indexOf("@");
  const digest = at >= 0 ? image.slice(at + 1) : "";
  const name = at >= 0 ? image.slice(0, at) : image;
  const colon = name.lastIndexOf(":");
  const tag = colon > name.lastIndexOf("/") ? name.slice(colon + 1) : "";
  return { tag, digest };
}
