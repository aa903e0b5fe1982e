// `rampart scan k8s`: Kubernetes manifest posture. Loads manifests, runs the pod, RBAC and network
// checks, and reports findings with resource, field path, line, fix and CIS ids.
import { createHash } from "node:crypto";
import { type Clock, systemClock } from "../../../platform/clock.ts";
import type { Finding, ScanResult } from "../types.ts";
import { cisReferences, type K8sRule, k8sRules } from "./cis.ts";
import type { CheckContext, Hit, K8sCheckOptions } from "./checks/context.ts";
import { resourcesOf, workloadsOf } from "./checks/context.ts";
import { kubeScorePodChecks, kubeScoreRules } from "./checks/kube-score.ts";
import { podChecks } from "./checks/pod.ts";
import { type NodePath, type ParsedDoc, loadManifests, parseManifests } from "./load.ts";
import { networkChecks } from "./network.ts";
import { rbacChecks } from "./rbac.ts";

export type { ParsedDoc, NodePath } from "./load.ts";
export { loadManifests, manifestFiles, parseManifests, readStdin } from "./load.ts";
export type { K8sCheckOptions, KubeScoreOptions, Profile } from "./checks/context.ts";
export { type K8sRule, type K8sRuleId, k8sRules } from "./cis.ts";
export { kubeScoreGrade, kubeScoreMapping } from "./checks/kube-score.ts";

export interface K8sScanOptions extends K8sCheckOptions {
  /** File name for a string input (default `<stdin>`). */
  file?: string;
  /** What the result says was scanned (default: the file names). */
  target?: string;
  clock?: Clock;
}

/** `spec.template.spec.containers[0].image` */
export function formatPath(path: NodePath): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

/** Line and column of the deepest node of `path` that exists in the document. */
function position(h: Hit): { line: number; column: number; streamLine: number } | undefined {
  const { doc } = h.res;
  const full = [...h.res.base, ...h.path];
  for (let n = full.length; n >= 0; n--) {
    const node = doc.doc.getIn(full.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    const start = node?.range?.[0];
    if (start === undefined) continue;
    const p = doc.lines.linePos(start);
    return { line: p.line - doc.lineBase, column: p.col, streamLine: p.line };
  }
  return undefined;
}

const fingerprint = (...parts: string[]) =>
  createHash("sha256").update(parts.join("\0")).digest("hex").slice(0, 16);

function toFinding(h: Hit): Finding {
  const rule: K8sRule = k8sRules[h.rule];
  const pos = position(h);
  const path = formatPath(h.path);
  const refs = cisReferences(h.rule);
  const file = h.res.doc.file;
  return {
    rule: h.rule,
    severity: h.severity ?? rule.severity,
    title: h.title ?? rule.title,
    fix: rule.fix,
    location: {
      file,
      ...(pos ? { line: pos.line, column: pos.column } : {}),
      resource: h.res.id,
      ...(path ? { path } : {}),
    },
    fingerprint: fingerprint(h.rule, file, h.res.id, path),
    ...(refs ? { references: refs } : {}),
    ...(h.details || h.res.doc.stream
      ? {
          details: {
            ...h.details,
            ...(h.res.doc.stream
              ? { renderedFrom: h.res.doc.stream, renderedLine: pos?.streamLine ?? null }
              : {}),
          },
        }
      : {}),
  };
}

/** Runs every check over already-parsed documents (or manifest text); the entry point benchmarks time. */
export function scanManifests(docs: ParsedDoc[] | string, o: K8sScanOptions = {}): ScanResult {
  const clock = o.clock ?? systemClock;
  const startedAt = clock.now().toISOString();
  const parsed = typeof docs === "string" ? parseManifests(docs, o.file) : docs;
  const resources = resourcesOf(parsed);
  const workloads = workloadsOf(resources);
  const kubeScore = o.profile === "kube-score";
  const skip = new Set(o.skip ?? []);
  const hits: Hit[] = [];
  let replaced = false;
  const ctx: CheckContext = {
    options: o,
    resources,
    workloads,
    serviceAccounts: new Map(
      resources.filter((r) => r.kind === "ServiceAccount").map((r) => [`${r.namespace}/${r.name}`, r]),
    ),
    hit: (h) => {
      if (skip.has(h.rule)) return;
      // In the kube-score profile, kube-score's semantics replace ours for the rules both have.
      if (kubeScore && replaced && kubeScoreRules.has(h.rule)) return;
      hits.push(h);
    },
  };
  for (const w of workloads) {
    replaced = true;
    podChecks(ctx, w);
    replaced = false;
    if (kubeScore) kubeScorePodChecks(ctx, w);
  }
  rbacChecks(ctx);
  networkChecks(ctx, kubeScore);
  const findings = hits.map(toFinding);
  findings.sort(
    (a, b) =>
      (a.location.file ?? "").localeCompare(b.location.file ?? "") ||
      (a.location.line ?? 0) - (b.location.line ?? 0) ||
      a.rule.localeCompare(b.rule),
  );
  const files = new Set(parsed.map((d) => d.file));
  return {
    kind: "k8s",
    target: o.target ?? [...new Set(parsed.map((d) => d.stream ?? d.file))].join(", "),
    startedAt,
    finishedAt: clock.now().toISOString(),
    findings,
    stats: {
      documents: parsed.length,
      resources: resources.length,
      workloads: workloads.length,
      files: files.size,
      findings: findings.length,
    },
  };
}

/** Reads PATHs (`-` for stdin) and scans them. */
export async function scanK8s(
  paths: string[],
  o: K8sScanOptions & { stdin?: () => Promise<string>; onFile?: (done: number, total: number) => void } = {},
): Promise<ScanResult> {
  const { docs } = await loadManifests(paths, o);
  return scanManifests(docs, { target: paths.join(", "), ...o });
}
