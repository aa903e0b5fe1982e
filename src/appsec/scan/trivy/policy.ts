// The Trivy gate's policy: by default only vulnerabilities with a fix fail it (Trivy's
// --ignore-unfixed), unfixed ones are reported as suppressed; and a finding past its SLA fails it
// whatever --fail-on says.
import { severityAtLeast, type Finding, type ScanResult, type ScanSeverity } from "../types.ts";

/** Trivy statuses that mean a fixed version exists (pkg/types: Status). */
const FIX_STATUSES = new Set(["fixed"]);

/**
 * Whether a vulnerability can be fixed by upgrading. Trivy's status decides when present
 * (fixed → yes; affected, will_not_fix, fix_deferred, end_of_life, under_investigation → no);
 * older reports without a status have a fix when they name a fixed version. Findings that are not
 * vulnerabilities (misconfigurations, secrets, licences) are always fixable.
 */
export function hasFix(f: Finding): boolean {
  if (f.details?.["kind"] !== "vulnerability") return true;
  const status = f.details["status"];
  if (typeof status === "string" && status !== "") return FIX_STATUSES.has(status.toLowerCase());
  return typeof f.details["fixed"] === "string" && f.details["fixed"] !== "";
}

/** Reason given to vulnerabilities the gate skips because nothing can be upgraded yet. */
export const NO_FIX_REASON = "no fix available";

/**
 * Without `includeUnfixed`, suppresses vulnerabilities that have no fix (reason "no fix
 * available", with Trivy's status), unless an ignore already suppressed them.
 */
export function applyUnfixedPolicy(findings: readonly Finding[], includeUnfixed: boolean): Finding[] {
  if (includeUnfixed) return [...findings];
  return findings.map((f) => {
    if (f.suppressed || hasFix(f)) return f;
    const status = f.details?.["status"];
    const reason =
      typeof status === "string" && status !== "" ? `${NO_FIX_REASON} (${status})` : NO_FIX_REASON;
    return { ...f, suppressed: { by: "policy" as const, reason } };
  });
}

/** Why the gate failed: findings at or above the threshold, and findings past their SLA. */
export interface TrivyGateOutcome {
  exit: 0 | 1;
  atOrAboveThreshold: Finding[];
  slaBreached: Finding[];
}

/**
 * The Trivy gate: 1 when an unsuppressed finding is at or above `failOn`, or (with
 * `failOnSlaBreach`) when an unsuppressed finding is past its SLA, whatever its severity.
 */
export function trivyGate(
  result: ScanResult,
  o: { failOn: ScanSeverity; failOnSlaBreach: boolean },
): TrivyGateOutcome {
  const open = result.findings.filter((f) => !f.suppressed);
  const atOrAboveThreshold = open.filter((f) => severityAtLeast(f.severity, o.failOn));
  const slaBreached = open.filter((f) => f.details?.["slaBreached"] === true);
  const exit = atOrAboveThreshold.length > 0 || (o.failOnSlaBreach && slaBreached.length > 0) ? 1 : 0;
  return { exit, atOrAboveThreshold, slaBreached };
}
