// `rampart scan iac`: posture checks on a Terraform plan (`terraform show -json`) for AWS, Google
// Cloud and Azure: open networks, Secure Boot / IMDSv2, encryption at rest (customer-managed keys
// on demand), database TLS and exposure, public buckets, key vault recovery, audit logging and
// data residency.
import { createHash } from "node:crypto";
import type { Clock } from "../../../platform/clock.ts";
import type { Finding, ScanResult } from "../types.ts";
import { awsChecks, awsPlacement, checkAws } from "./checks/aws.ts";
import { azureChecks, azurePlacement, checkAzure } from "./checks/azure.ts";
import {
  allowedRegions,
  type CheckContext,
  type CheckInfo,
  type IacIssue,
  type IacScanOptions,
  type Placement,
  type PlanResourcePlacement,
  residencyIssues,
} from "./checks/common.ts";
import { checkGcp, gcpChecks, gcpPlacement } from "./checks/gcp.ts";
import { parsePlan, type Plan, type PlanResource } from "./plan.ts";

export type { IacScanOptions, ResidencyPreset } from "./checks/common.ts";
export { residencyPresets } from "./checks/common.ts";
export { parsePlan, type Plan, type PlanResource } from "./plan.ts";

/** Every check the scanner runs, by provider, for docs and tests. */
export const iacChecks: Record<"aws" | "google" | "azurerm" | "any", CheckInfo[]> = {
  aws: awsChecks,
  google: gcpChecks,
  azurerm: azureChecks,
  any: [
    {
      rule: "IAC-RESIDENCY",
      severity: "high",
      resources: "every resource with a region, location or zone",
      what: "placed outside --regions / --residency",
    },
  ],
};

/** Where a resource lives, for residency; undefined when it has no region or it is unknown. */
export function placement(plan: Plan, r: PlanResource): Placement | undefined {
  if (r.provider === "aws") return awsPlacement(plan, r);
  if (r.provider === "google") return gcpPlacement(r);
  if (r.provider === "azurerm") return azurePlacement(r);
  return undefined;
}

/** Hex SHA-256 prefix over what identifies the problem: rule, resource address, attribute path. */
export function fingerprint(rule: string, resource: string, path = ""): string {
  return createHash("sha256").update(`${rule}\0${resource}\0${path}`).digest("hex").slice(0, 16);
}

/** The findings for a parsed plan (no file, no timing). */
export function checkPlan(plan: Plan, options: IacScanOptions = {}): IacIssue[] {
  const ctx: CheckContext = { plan, options };
  const issues = [...checkAws(ctx), ...checkGcp(ctx), ...checkAzure(ctx)];
  if (allowedRegions(options)) {
    const placed: PlanResourcePlacement[] = [];
    for (const resource of plan.resources) {
      const p = placement(plan, resource);
      if (p) placed.push({ resource, placement: p });
    }
    issues.push(...residencyIssues(placed, options));
  }
  // One finding per rule and place: a rule can match the same attribute through two routes.
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.rule}\0${i.resource}\0${i.path ?? ""}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** Scans plan JSON text; `target` is the file as given on the command line. */
export function scanPlan(text: string, o: IacScanOptions & { target: string; clock?: Clock }): ScanResult {
  const now = (): Date => (o.clock ? o.clock.now() : new Date());
  const startedAt = now().toISOString();
  const plan = parsePlan(text, o.target);
  const findings: Finding[] = checkPlan(plan, o).map((i) => ({
    rule: i.rule,
    severity: i.severity,
    title: i.title,
    fix: i.fix,
    location: { file: o.target, resource: i.resource, ...(i.path !== undefined ? { path: i.path } : {}) },
    fingerprint: fingerprint(i.rule, i.resource, i.path),
    ...(i.references?.length ? { references: i.references } : {}),
  }));
  const providers = new Set(plan.resources.map((r) => r.provider));
  return {
    kind: "iac",
    target: o.target,
    startedAt,
    finishedAt: now().toISOString(),
    findings,
    stats: {
      resources: plan.resources.length,
      providers: providers.size,
      bytes: Buffer.byteLength(text),
    },
  };
}
