// The three CI gate scanners' results made as the CLI makes them from real inputs (Trivy's report of
// alpine 3.10 from shared/eval, a privileged Deployment, an insecure Terraform plan), for tests that
// upload them as `rampart scan … --report-to` does.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { scanPlan } from "../../src/appsec/scan/iac/index.ts";
import { scanManifests } from "../../src/appsec/scan/k8s/index.ts";
import { scanTrivyReport } from "../../src/appsec/scan/trivy/index.ts";
import type { ScanResult } from "../../src/appsec/scan/types.ts";
import { systemClock } from "../../src/platform/clock.ts";

const repo = fileURLToPath(new URL("../..", import.meta.url));

/** The image name CI gives the Trivy result (not the report file's path on the runner). */
export const SCANNED_IMAGE = "registry.example.com/shop/api:3.10";

export async function gateResults(
  cwd: string,
): Promise<{ trivy: ScanResult; k8s: ScanResult; iac: ScanResult }> {
  const trivy = (
    await scanTrivyReport({
      report: resolve(repo, "../shared/eval/trivy/alpine-310.json"),
      cwd,
      clock: systemClock,
    })
  ).result;
  const k8s = scanManifests(
    `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: web:1.0
          securityContext:
            privileged: true
`,
    { file: "deploy/web.yaml" },
  );
  const iac = scanPlan(readFileSync(join(repo, "test/fixtures/iac/aws-insecure.json"), "utf8"), {
    target: "plans/aws-insecure.json",
  });
  return { trivy: { ...trivy, target: SCANNED_IMAGE }, k8s, iac };
}
