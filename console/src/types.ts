// The control plane's answers as the console receives them: the server's compliance and incident
// shapes after JSON (dates are ISO strings). Kept here so the browser build never pulls in server code.

export type ItemStanding = "passing" | "at_risk" | "failing" | "overdue" | "excepted" | "not_applicable";
export type ControlStatus = "passing" | "at_risk" | "failing" | "needs_evidence" | "not_applicable";
export type RequirementStatus = "compliant" | "partially_compliant" | "non_compliant" | "not_assessed";

export interface ReadinessSummary {
  requirements: number;
  compliant: number;
  partiallyCompliant: number;
  nonCompliant: number;
  notAssessed: number;
  /** 0..1 */
  score: number;
}

export interface ComplianceStatus {
  lastCycleAt?: string;
  frameworks: { id: string; name: string; summary: ReadinessSummary }[];
  checks: {
    id: string;
    title: string;
    source: string;
    lastRunAt?: string;
    error?: string;
    counts: Record<ItemStanding, number>;
  }[];
}

export interface ItemResult {
  checkId: string;
  resource: string;
  standing: ItemStanding;
  status: "pass" | "fail" | "not_applicable";
  detail: string;
  fingerprint: string;
  firstFailedAt?: string;
  dueAt?: string;
  lastRunAt: string;
  exceptionId?: string;
}

export interface CheckSummary {
  id: string;
  title: string;
  source: string;
  remediation: string;
  lastRunAt?: string;
  error?: string;
  items: ItemResult[];
}

export interface Evidence {
  id: string;
  kind: "snapshot" | "file" | "link" | "attestation";
  title: string;
  controls: string[];
  sha256: string;
  collectedAt: string;
  validUntil?: string;
  state: "draft" | "in_review" | "approved" | "rejected" | "expired";
  addedBy: string;
  reviewedBy?: string;
  ref: string;
}

export interface ControlReadiness {
  control: { id: string; title: string; description: string; domain: string };
  status: ControlStatus;
  checks: CheckSummary[];
  evidence: Evidence[];
}

export interface RequirementReadiness {
  requirement: { frameworkId: string; ref: string; title: string; group?: string };
  status: RequirementStatus;
  controls: { id: string; relationship: string; status: ControlStatus }[];
}

export interface FrameworkReadiness {
  framework: { id: string; name: string; version: string; publisher: string; attribution: string };
  generatedAt: string;
  summary: ReadinessSummary;
  requirements: RequirementReadiness[];
  controls: ControlReadiness[];
}

export interface Incident {
  id: string;
  title: string;
  priority: "P0" | "P1" | "P2" | "P3";
  state: string;
  createdAt: string;
}
