// GitLab security reports (schema 15.0.7): container_scanning for Trivy, sast for Kubernetes and
// IaC posture, secret_detection for secrets; GitLab shows them in merge requests and the
// vulnerability report. Suppressed findings are left out: GitLab has no notion of them and would
// show them as new.
import { createHash } from "node:crypto";
import type { Finding, ScanKind, ScanResult, ScanSeverity } from "./types.ts";

export const GITLAB_SCHEMA_VERSION = "15.0.7";

export type GitlabReportType = "container_scanning" | "sast" | "secret_detection";
export type GitlabSeverity = "Info" | "Unknown" | "Low" | "Medium" | "High" | "Critical";

export interface GitlabIdentifier {
  type: string;
  name: string;
  value: string;
  url?: string;
}
export interface GitlabVulnerability {
  id: string;
  name: string;
  description: string;
  severity: GitlabSeverity;
  solution?: string;
  identifiers: GitlabIdentifier[];
  links?: { name?: string; url: string }[];
  location: Record<string, unknown>;
}
export interface GitlabScanner {
  id: string;
  name: string;
  version: string;
  vendor: { name: string };
}
export interface GitlabReport {
  version: string;
  schema: string;
  scan: {
    scanner: GitlabScanner;
    analyzer: GitlabScanner;
    type: GitlabReportType;
    start_time: string;
    end_time: string;
    status: "success" | "failure";
    messages?: { level: "info" | "warn" | "fatal"; value: string }[];
  };
  vulnerabilities: GitlabVulnerability[];
}

/** Which GitLab report a scan kind becomes. */
export const gitlabReportType: Record<ScanKind, GitlabReportType> = {
  trivy: "container_scanning",
  k8s: "sast",
  iac: "sast",
  secrets: "secret_detection",
};

const SCHEMA_FILE: Record<GitlabReportType, string> = {
  container_scanning: "container-scanning-report-format.json",
  sast: "sast-report-format.json",
  secret_detection: "secret-detection-report-format.json",
};

const SEVERITY: Record<ScanSeverity, GitlabSeverity> = {
  critical: "Critical",
  high: "High",
  medium: "Medium",
  low: "Low",
  info: "Info",
};

// GitLab's schema wants `yyyy-mm-ddThh:mm:ss` in UTC, without fraction or zone.
const gitlabTime = (iso: string) => {
  const t = Date.parse(iso);
  return (Number.isNaN(t) ? new Date(0) : new Date(t)).toISOString().slice(0, 19);
};

// A stable UUID-shaped id per finding (GitLab recommends UUIDs), from what already identifies it.
function findingId(kind: ScanKind, fingerprint: string): string {
  const h = createHash("sha256").update(`${kind}:${fingerprint}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? "0", 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const isUrl = (s: string | undefined) => (s && /^(https?|ftp):\/\/.+/.test(s) ? s : undefined);

function identifiers(f: Finding): GitlabIdentifier[] {
  const url = isUrl(str(f.details?.primaryUrl));
  const ids: GitlabIdentifier[] = [];
  if (/^CVE-\d{4}-\d+$/i.test(f.rule))
    ids.push({ type: "cve", name: f.rule, value: f.rule, ...(url ? { url } : {}) });
  else if (/^GHSA-/i.test(f.rule))
    ids.push({ type: "ghsa", name: f.rule, value: f.rule, ...(url ? { url } : {}) });
  else ids.push({ type: "rampart_rule_id", name: f.rule, value: f.rule, ...(url ? { url } : {}) });
  for (const ref of f.references ?? []) {
    const cwe = /^CWE-(\d+)$/i.exec(ref);
    if (cwe) ids.push({ type: "cwe", name: ref.toUpperCase(), value: cwe[1] as string });
    else if (ref.length > 0)
      ids.push({ type: ref.split("-")[0]?.toLowerCase() || "reference", name: ref, value: ref });
  }
  return ids;
}

function location(f: Finding, result: ScanResult): Record<string, unknown> {
  const l = f.location;
  const d = f.details ?? {};
  switch (gitlabReportType[result.kind]) {
    case "container_scanning":
      return {
        dependency: {
          package: { name: str(d.package) ?? str(d.pkgName) ?? l.path ?? l.resource ?? f.rule },
          version: str(d.installed) ?? str(d.installedVersion) ?? "",
        },
        operating_system: str(d.os) ?? str(d.operatingSystem) ?? l.resource ?? "unknown",
        image: str(d.image) ?? str(d.artifact) ?? result.target,
      };
    case "secret_detection":
      return {
        file: l.file ?? result.target,
        ...(l.line ? { start_line: l.line, end_line: l.line } : {}),
        // Required by the schema; a working-tree scan has no commit, as in GitLab's own analyzer.
        commit: {
          sha: str(d.commit) ?? "0000000",
          ...(str(d.author) ? { author: str(d.author) } : {}),
          ...(str(d.date) ? { date: str(d.date) } : {}),
        },
      };
    case "sast":
      return {
        file: l.file ?? result.target,
        ...(l.line ? { start_line: l.line, end_line: l.line } : {}),
        ...(l.resource ? { class: l.resource } : {}),
        ...(l.path ? { method: l.path } : {}),
      };
  }
}

/** The result as a GitLab security report of the kind's type. */
export function toGitlabReport(result: ScanResult, toolVersion: string): GitlabReport {
  const type = gitlabReportType[result.kind];
  const shown = result.findings.filter((f) => !f.suppressed);
  const hidden = result.findings.length - shown.length;
  const vendor = { name: "Rampart" };
  return {
    version: GITLAB_SCHEMA_VERSION,
    schema: `https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v${GITLAB_SCHEMA_VERSION}/dist/${SCHEMA_FILE[type]}`,
    scan: {
      scanner: { id: `rampart-${result.kind}`, name: `Rampart ${result.kind}`, version: toolVersion, vendor },
      analyzer: { id: "rampart", name: "Rampart", version: toolVersion, vendor },
      type,
      start_time: gitlabTime(result.startedAt),
      end_time: gitlabTime(result.finishedAt),
      status: "success",
      ...(hidden > 0
        ? {
            messages: [
              {
                level: "info" as const,
                value: `${hidden} suppressed finding(s) left out (ignore or baseline)`,
              },
            ],
          }
        : {}),
    },
    vulnerabilities: shown.map((f) => {
      const url = isUrl(str(f.details?.primaryUrl));
      const where = [f.location.file, f.location.resource, f.location.path].filter(Boolean).join(" ");
      return {
        id: findingId(result.kind, f.fingerprint),
        name: clip(f.title, 255),
        description: clip(`${f.title}${where ? ` (${where})` : ""}`, 1_048_576),
        severity: SEVERITY[f.severity],
        ...(f.fix ? { solution: clip(f.fix, 7000) } : {}),
        identifiers: identifiers(f),
        ...(url ? { links: [{ url }] } : {}),
        location: location(f, result),
      };
    }),
  };
}
