// `rampart scan k8s PATH|-`: Kubernetes manifest posture as a CI gate.
import { type Command, InvalidArgumentError, Option } from "commander";
import { kubeScoreMapping, scanK8s } from "../appsec/scan/k8s/index.ts";
import { type CommonScanOptions, commonScanOptions, type ScanRunner } from "./scan.ts";

interface K8sOptions extends CommonScanOptions {
  profile: "rampart" | "kube-score";
  optional?: string[];
  skip?: string[];
  ignoreCpuLimit?: boolean;
  ignoreMemoryLimit?: boolean;
}

const listArg = (v: string, prev: string[] = []) => [
  ...prev,
  ...v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

const optionalArg = (v: string, prev: string[] = []) => {
  const known = new Set([
    "ephemeral-storage",
    "requests-equal-limits",
    ...Object.values(kubeScoreMapping)
      .filter((m) => m.optional)
      .map((m) => m.id),
  ]);
  const out = listArg(v, prev);
  for (const x of out) if (!known.has(x)) throw new InvalidArgumentError(`unknown optional check ${x}`);
  return out;
};

/** Registers `rampart scan k8s` under the `scan` command group. */
export function registerK8sScan(scan: Command, run: ScanRunner): void {
  commonScanOptions(
    scan
      .command("k8s")
      .description(
        "scan Kubernetes manifests (files, directories, - for stdin; multi-document YAML, lists, helm template and kustomize build output)",
      )
      .argument("<paths...>", "manifest files or directories (*.yaml, *.yml, *.json), or - for stdin")
      .addOption(
        new Option(
          "--profile <profile>",
          "check semantics: rampart, or kube-score's for the checks both have",
        )
          .choices(["rampart", "kube-score"])
          .default("rampart"),
      )
      .option(
        "--optional <checks>",
        "enable optional checks: ephemeral-storage, requests-equal-limits, or kube-score's (container-seccomp-profile…)",
        optionalArg,
      )
      .option("--skip <rules>", "rule ids not to run (K8S-IMAGE-DIGEST,…)", listArg)
      .option("--ignore-cpu-limit", "kube-score profile: do not require CPU limits")
      .option("--ignore-memory-limit", "kube-score profile: do not require memory limits"),
  ).action(async (paths: string[], o: K8sOptions) => {
    await run(o, (progress) =>
      scanK8s(paths, {
        profile: o.profile,
        ...(o.optional ? { optional: o.optional } : {}),
        ...(o.skip ? { skip: o.skip } : {}),
        kubeScore: {
          ...(o.optional ? { enabledOptional: o.optional } : {}),
          ...(o.ignoreCpuLimit ? { ignoreContainerCpuLimit: true } : {}),
          ...(o.ignoreMemoryLimit ? { ignoreContainerMemoryLimit: true } : {}),
        },
        onFile: (done, total) => progress.update(done, total),
      }),
    );
  });
}
