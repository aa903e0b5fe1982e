// SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps): one run, one rule per
// distinct finding rule, fingerprints so dashboards track a finding across runs, and suppressions
// so ignored and baselined findings show as such instead of vanishing.
import type { Finding, ScanResult, ScanSeverity } from "./types.ts";

// The subset of the SARIF 2.1.0 object model Rampart writes (names as in the OASIS specification).
export interface SarifLog {
  $schema: string;
  version: "2.1.0";
  runs: SarifRun[];
}
export interface SarifRun {
  tool: {
    driver: {
      name: string;
      version: string;
      semanticVersion?: string;
      rules: SarifRule[];
    };
  };
  automationDetails: { id: string };
  invocations: { executionSuccessful: boolean; startTimeUtc: string; endTimeUtc: string }[];
  results: SarifResult[];
}
export interface SarifRule {
  id: string;
  shortDescription: { text: string };
  fullDescription?: { text: string };
  help: { text: string };
  defaultConfiguration: { level: SarifLevel };
  properties: { "security-severity": string; tags: string[]; references?: string[] };
}
export type SarifLevel = "error" | "warning" | "note" | "none";
export interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: SarifLevel;
  message: { text: string };
  locations: SarifLocation[];
  partialFingerprints: Record<string, string>;
  suppressions?: { kind: "inSource" | "external"; status: "accepted"; justification?: string }[];
  properties: { "security-severity": string; severity: ScanSeverity; details?: Record<string, unknown> };
}
export interface SarifLocation {
  physicalLocation?: {
    artifactLocation: { uri: string };
    region?: { startLine: number; startColumn?: number };
  };
  logicalLocations?: { name: string; fullyQualifiedName: string; kind: string }[];
}

/** GitHub's `security-severity` scale (CVSS-like), by Rampart severity. */
export const securitySeverity: Record<ScanSeverity, number> = {
  critical: 9.5,
  high: 8.0,
  medium: 5.5,
  low: 2.0,
  info: 0,
};

/** SARIF `level` for a severity: critical/high fail, medium warns, the rest are notes. */
export function sarifLevel(s: ScanSeverity): SarifLevel {
  return s === "critical" || s === "high" ? "error" : s === "medium" ? "warning" : "note";
}

const score = (s: ScanSeverity) => securitySeverity[s].toFixed(1);
const rank = (s: ScanSeverity) => securitySeverity[s];

// A URI reference as SARIF wants it: forward slashes, no raw spaces (Trivy targets hold them).
const toUri = (p: string) => encodeURI(p.replace(/\\/g, "/"));

/** The result as a SARIF 2.1.0 log with a single run. */
export function toSarif(result: ScanResult, toolVersion: string): SarifLog {
  const rules: SarifRule[] = [];
  const index = new Map<string, number>();
  for (const f of result.findings) {
    const at = index.get(f.rule);
    if (at === undefined) {
      index.set(f.rule, rules.length);
      rules.push(ruleOf(f, result));
      continue;
    }
    // A rule is as severe as its worst finding (Trivy rules carry one severity; ours may vary by place).
    const rule = rules[at] as SarifRule;
    if (rank(f.severity) > Number(rule.properties["security-severity"])) {
      rule.properties["security-severity"] = score(f.severity);
      rule.defaultConfiguration.level = sarifLevel(f.severity);
    }
  }
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "rampart",
            version: toolVersion,
            ...(/^\d+\.\d+\.\d+/.test(toolVersion) ? { semanticVersion: toolVersion } : {}),
            rules,
          },
        },
        // GitHub keeps one analysis per category: each scan kind replaces only its own alerts.
        automationDetails: { id: `rampart-${result.kind}/` },
        invocations: [
          { executionSuccessful: true, startTimeUtc: result.startedAt, endTimeUtc: result.finishedAt },
        ],
        results: result.findings.map((f) => resultOf(f, index.get(f.rule) ?? 0, result)),
      },
    ],
  };
}

function ruleOf(f: Finding, result: ScanResult): SarifRule {
  const help = f.fix ?? f.title;
  return {
    id: f.rule,
    shortDescription: { text: f.title },
    help: { text: help },
    defaultConfiguration: { level: sarifLevel(f.severity) },
    properties: {
      "security-severity": score(f.severity),
      tags: ["security", result.kind],
      ...(f.references?.length ? { references: f.references } : {}),
    },
  };
}

function resultOf(f: Finding, ruleIndex: number, result: ScanResult): SarifResult {
  const l = f.location;
  const location: SarifLocation = {
    // Dashboards need a file to anchor an alert to; without one, the scanned target stands in.
    physicalLocation: {
      artifactLocation: { uri: toUri(l.file ?? result.target) },
      ...(l.file && l.line
        ? { region: { startLine: l.line, ...(l.column ? { startColumn: l.column } : {}) } }
        : {}),
    },
  };
  if (l.resource || l.path) {
    const name = l.path ?? l.resource ?? "";
    location.logicalLocations = [
      {
        name,
        fullyQualifiedName: [l.resource, l.path].filter(Boolean).join(":"),
        kind: l.path ? "member" : "resource",
      },
    ];
  }
  return {
    ruleId: f.rule,
    ruleIndex,
    level: sarifLevel(f.severity),
    message: { text: f.fix ? `${f.title}. Fix: ${f.fix}` : f.title },
    locations: [location],
    partialFingerprints: { "rampart/v1": f.fingerprint },
    ...(f.suppressed
      ? {
          suppressions: [
            {
              kind: f.suppressed.by === "inline" ? ("inSource" as const) : ("external" as const),
              status: "accepted" as const,
              justification:
                f.suppressed.reason ??
                `suppressed by ${f.suppressed.by}${f.suppressed.expires ? ` until ${f.suppressed.expires}` : ""}`,
            },
          ],
        }
      : {}),
    properties: {
      "security-severity": score(f.severity),
      severity: f.severity,
      ...(f.details ? { details: f.details } : {}),
    },
  };
}
