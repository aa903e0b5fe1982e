// What every scanner reports, whatever it scanned: one finding shape for tables, SARIF, JUnit,
// GitLab reports, exit codes and the control plane's evidence.

/** Ordered from least to most severe. */
export const scanSeverities = ["info", "low", "medium", "high", "critical"] as const;
export type ScanSeverity = (typeof scanSeverities)[number];

/** `a` is at least as severe as `b`. */
export const severityAtLeast = (a: ScanSeverity, b: ScanSeverity): boolean =>
  scanSeverities.indexOf(a) >= scanSeverities.indexOf(b);

export type ScanKind = "trivy" | "k8s" | "iac" | "secrets";

/** Where a finding is: a file position, a Kubernetes resource, a Terraform address, a package. */
export interface FindingLocation {
  /** File path as given on the command line (relative stays relative). */
  file?: string;
  line?: number;
  column?: number;
  /** `Kind/namespace/name` for Kubernetes, the resource address for Terraform, the target for Trivy. */
  resource?: string;
  /** Dotted path inside the resource: `spec.template.spec.containers[0].securityContext.privileged`. */
  path?: string;
}

export interface Finding {
  /** The check or rule: `K8S-PRIVILEGED`, `CVE-2019-18224`, `aws-access-key`, `IAC-SG-OPEN-SSH`. */
  rule: string;
  severity: ScanSeverity;
  /** One line for people. Never holds a secret in clear (secrets scanning redacts). */
  title: string;
  /** What to change. */
  fix?: string;
  location: FindingLocation;
  /**
   * Stable across runs for the same problem at the same place (baselines, ignores, first-seen
   * state): a hex SHA-256 prefix over what identifies it, never over a secret's raw value.
   */
  fingerprint: string;
  /** Standards references, ids only: `CIS-5.2.1`, `CWE-798`. */
  references?: string[];
  /** Non-secret details for machines (package, installed and fixed version, CVSS…). */
  details?: Record<string, string | number | boolean | null>;
  /** Set when an ignore or baseline entry covers it: it is reported but does not fail the gate. */
  suppressed?: { by: "ignore" | "baseline" | "inline" | "policy"; reason?: string; expires?: string };
}

/** One scanner run, as outputs and the control plane receive it. */
export interface ScanResult {
  kind: ScanKind;
  /** What was scanned: report file, manifest paths, plan file, directory. */
  target: string;
  startedAt: string;
  finishedAt: string;
  findings: Finding[];
  /** Objects examined (manifests, resources, files, bytes) for summaries and benchmarks. */
  stats: Record<string, number>;
}
