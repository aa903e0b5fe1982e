// Layer 3 CI gates: scan results (Trivy reports, Kubernetes and IaC posture, secrets in code),
// their outputs, the gate, and the control plane's evidence of them.
export {
  type Finding,
  type FindingLocation,
  type ScanKind,
  type ScanResult,
  type ScanSeverity,
  scanSeverities,
  severityAtLeast,
} from "./types.ts";
export {
  countFindings,
  type FindingCounts,
  formatLocation,
  gateExit,
  type OutputFormat,
  outputFormats,
  type RenderOptions,
  renderResult,
  summaryLine,
} from "./output.ts";
export { type SarifLog, sarifLevel, securitySeverity, toSarif } from "./sarif.ts";
export { toJUnit, xmlEscape } from "./junit.ts";
export { GITLAB_SCHEMA_VERSION, type GitlabReport, gitlabReportType, toGitlabReport } from "./gitlab.ts";
export { ReportError, type ReportTarget, reportResult, type ScanReportResponse, scansUrl } from "./report.ts";
export {
  createScanEvidence,
  type ScanEvidence,
  type ScanItem,
  scanMigrations,
  type ScanRecordOutcome,
  scanReportSchema,
  scanResultSchema,
  type ScanRun,
  type ScanTables,
} from "./evidence.ts";
