// Agreement with kube-score on its own test manifests and expectations (../shared/eval/k8s/kube-score):
// every expectation whose check maps to Rampart rules is scored with `--profile kube-score`.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type KubeScoreOptions,
  kubeScoreGrade,
  kubeScoreMapping,
  scanManifests,
} from "../src/appsec/scan/k8s/index.ts";
import { severityAtLeast, type ScanSeverity } from "../src/appsec/scan/types.ts";

const dir = fileURLToPath(new URL("../../shared/eval/k8s/kube-score/", import.meta.url));

interface Expectation {
  files: string[];
  check: string;
  expectedGrade: "GradeCritical" | "GradeWarning" | "GradeAllOK";
  optionalTestsEnabled: string[];
  sourceTest: string;
}

// expected.json keeps the enabled optional tests but not the rest of kube-score's run configuration;
// these three tests set it in Go (score_test.go, optional_test.go), so it is restated here.
const runConfiguration: Record<string, KubeScoreOptions> = {
  "score_test.go::TestPodContainerResourceLimitCpuNotRequired": { ignoreContainerCpuLimit: true },
  "score_test.go::TestPodContainerResourceNoLimitRequired": {
    ignoreContainerCpuLimit: true,
    ignoreContainerMemoryLimit: true,
  },
  "optional_test.go::TestOptionalRunCliFlagEnabledDefault": {
    enabledOptional: ["container-resource-requests-equal-limits"],
  },
};

describe.runIf(existsSync(dir))("kube-score agreement", () => {
  it("agrees with >= 95% of kube-score's expectations for the checks both tools have", () => {
    const expectations = JSON.parse(readFileSync(`${dir}expected.json`, "utf8")) as Expectation[];
    const perCheck = new Map<string, { total: number; agree: number; gradeAgree: number }>();
    const unmapped = new Set<string>();
    const misses: string[] = [];
    for (const e of expectations) {
      const mapping = kubeScoreMapping[e.check];
      if (!mapping) {
        unmapped.add(e.check);
        continue;
      }
      const text = e.files.map((f) => readFileSync(`${dir}${f}`, "utf8")).join("\n---\n");
      const run = runConfiguration[e.sourceTest] ?? {};
      const result = scanManifests(text, {
        file: e.files.join(","),
        profile: "kube-score",
        kubeScore: { ...run, enabledOptional: [...e.optionalTestsEnabled, ...(run.enabledOptional ?? [])] },
      });
      const found = result.findings.filter((f) => (mapping.rules as string[]).includes(f.rule));
      // The worst of the mapped findings is the grade kube-score would give the check.
      const worst = found.reduce<ScanSeverity | undefined>(
        (w, f) => (w === undefined || severityAtLeast(f.severity, w) ? f.severity : w),
        undefined,
      );
      const grade = kubeScoreGrade(worst);
      const wantFinding = e.expectedGrade !== "GradeAllOK";
      const agree = wantFinding === (grade === "GradeCritical" || grade === "GradeWarning");
      const row = perCheck.get(e.check) ?? { total: 0, agree: 0, gradeAgree: 0 };
      row.total++;
      if (agree) row.agree++;
      else misses.push(`${e.sourceTest} (${e.files.join(",")}): want ${e.expectedGrade}, got ${grade}`);
      if (grade === e.expectedGrade) row.gradeAgree++;
      perCheck.set(e.check, row);
    }
    const rows = [...perCheck].map(([check, r]) => ({
      check,
      rules: kubeScoreMapping[check]?.rules.join(" "),
      ...r,
    }));
    console.table(rows);
    console.log(`unmapped kube-score checks: ${unmapped.size ? [...unmapped].join(", ") : "none"}`);
    if (misses.length) console.log(`disagreements:\n  ${misses.join("\n  ")}`);
    const total = rows.reduce((n, r) => n + r.total, 0);
    const agree = rows.reduce((n, r) => n + r.agree, 0);
    const gradeAgree = rows.reduce((n, r) => n + r.gradeAgree, 0);
    console.log(`finding agreement ${agree}/${total}; exact grade agreement ${gradeAgree}/${total}`);
    expect(total).toBeGreaterThanOrEqual(60);
    expect(agree / total).toBeGreaterThanOrEqual(0.95);
  });

  it("disagrees with kube-score where Rampart's defaults are stricter or different", () => {
    // Default semantics: a UID of 1000 is a low finding only, and probes are asked of every long-running pod.
    const text = readFileSync(`${dir}pod-probes-not-targeted-by-service.yaml`, "utf8");
    const ours = scanManifests(text).findings.map((f) => f.rule);
    const theirs = scanManifests(text, { profile: "kube-score" }).findings.map((f) => f.rule);
    expect(ours).toContain("K8S-READINESS-PROBE");
    expect(theirs).not.toContain("K8S-READINESS-PROBE");
  });
});
