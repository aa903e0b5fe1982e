// The shared model of continuous compliance: frameworks and their requirements, Rampart's own
// controls mapped to them (NIST IR 8477 set relationships), checks that test live evidence item by
// item, and the results, exceptions, evidence and tickets that follow from them.

/** How a control relates to a requirement, as NIST IR 8477's set theory relationships. */
export const relationships = ["equal", "subset", "superset", "intersect"] as const;
export type Relationship = (typeof relationships)[number];

export interface Framework {
  /** Short id used everywhere: dpdp, gdpr, iso27001, iso27017, iso27018, soc2, nist-csf-2.0, cis-k8s. */
  id: string;
  name: string;
  version: string;
  publisher: string;
  /** What may ship: "ids-and-own-words" (ISO, SOC 2, CIS), "text-with-attribution" (GDPR, DPDP), "public-domain" (NIST). */
  licence: "ids-and-own-words" | "text-with-attribution" | "public-domain";
  /** Source acknowledgement printed in reports. */
  attribution: string;
  sourceUrl: string;
}

export interface Requirement {
  frameworkId: string;
  /** The framework's own reference: "A.8.24", "Art. 33", "s.8(6)", "Rule 7", "CC6.1", "PR.AA-05", "5.1.3". */
  ref: string;
  /** A one-line description in Rampart's own words (official title only where the licence allows). */
  title: string;
  /** A grouping within the framework (ISO theme, CSF function, GDPR chapter), for reports. */
  group?: string;
}

export interface ControlMapping {
  frameworkId: string;
  ref: string;
  relationship: Relationship;
}

export interface Control {
  /** e.g. ZT-NET-001 */
  id: string;
  title: string;
  description: string;
  /** The layer of Rampart the control lives in. */
  domain: "network" | "identity" | "appsec" | "data" | "monitoring" | "governance";
  /** Checks whose items evidence the control; a control with none needs manual evidence. */
  checks: string[];
  mappings: ControlMapping[];
}

export interface Catalogue {
  frameworks: Framework[];
  requirements: Requirement[];
  controls: Control[];
}

// ---------------------------------------------------------------------------------------------
// Checks: a test run against live evidence, one result per item (a route, a secret, a finding…).

export type ItemStatus = "pass" | "fail" | "not_applicable";

export interface CheckItem {
  /** Stable per item, e.g. "route:app.example.com/" or "secret:db/orders"; part of the ticket fingerprint. */
  resource: string;
  status: ItemStatus;
  /** What was observed, for people: "minVersion TLSv1.2", "rotated 97 days ago (every 90)". No secret values. */
  detail: string;
  /** Machine-readable observations kept in the evidence snapshot (no secrets, no personal data). */
  observed?: Record<string, unknown>;
  /**
   * When the item began failing by its own clock (a finding's first sighting, a secret's rotation
   * due date); absent: when a run first saw it fail. The SLA deadline counts from here.
   */
  failingSince?: Date;
}

export type CheckSource = "gateway" | "identity" | "secrets" | "gates" | "audit" | "privacy" | "incidents";

export interface CheckDefinition {
  /** e.g. "gateway.tls-min-version" */
  id: string;
  title: string;
  source: CheckSource;
  /** What to do when an item fails, for the ticket and the report. */
  remediation: string;
  /** Days a failing item may stay failing before it is overdue (Vanta's SLA). */
  slaDays: number;
  /** Days within the SLA that count as "at risk" rather than failing (Secureframe's tolerance). */
  toleranceDays: number;
  run(ctx: CheckContext): Promise<CheckItem[]>;
}

/**
 * What a check may read. Every field is read-only evidence that Rampart already holds; a check
 * never changes anything. Fields are absent when that module is not running (the check then
 * reports the items it can, or none).
 */
export interface CheckContext {
  now: Date;
  /** The config in force (RampartConfig). */
  config: import("../../config/index.ts").RampartConfig;
  /** The control plane's database (Kysely over PostgreSQL or PGlite). */
  db: import("../../platform/store/index.ts").Store["db"];
  /** Probe a TLS endpoint (servername: SNI): whether legacy protocols are refused, what modern ones agree. */
  probeTls?: (host: string, port: number, servername?: string) => Promise<TlsProbe>;
  /** rampart.yaml as written, references unresolved: shows which credentials are given in plain text. */
  rawConfig?: unknown;
  /** The last audit verification, if any ran. */
  auditVerification?: () => { ok: boolean; at: Date; problem?: string } | undefined;
  /** The privacy services, when running. */
  privacy?: import("../../server/privacy.ts").Privacy;
}

export interface TlsProbe {
  /** Whether a handshake limited to TLS 1.0/1.1 was refused (it must be). */
  legacyRefused: boolean;
  /** The protocol agreed when offering TLS 1.2 and 1.3, or an error. */
  modern: string | { error: string };
}

// ---------------------------------------------------------------------------------------------
// Results and their life cycle.

/**
 * An item's standing after exceptions and SLA: passing; at_risk (failing, within the tolerance
 * window of its SLA); failing (within SLA but past tolerance); overdue (past SLA); excepted (an
 * approved, unexpired exception covers it); not_applicable.
 */
export type ItemStanding = "passing" | "at_risk" | "failing" | "overdue" | "excepted" | "not_applicable";

export interface ItemResult {
  checkId: string;
  resource: string;
  standing: ItemStanding;
  status: ItemStatus;
  detail: string;
  /** sha256(checkId + "\n" + resource), hex: dedupes tickets and names the item in links. */
  fingerprint: string;
  firstFailedAt?: Date;
  dueAt?: Date;
  lastRunAt: Date;
  exceptionId?: string;
}

export type ControlStatus = "passing" | "at_risk" | "failing" | "needs_evidence" | "not_applicable";

export type RequirementStatus = "compliant" | "partially_compliant" | "non_compliant" | "not_assessed";

export interface Exception {
  id: string;
  checkId: string;
  /** A resource, or "*" for every item of the check. */
  resource: string;
  justification: string;
  requestedBy: string;
  approvedBy?: string;
  expiresAt: Date;
  state: "pending" | "approved" | "rejected" | "revoked";
}

export type EvidenceKind = "snapshot" | "file" | "link" | "attestation";
export type EvidenceState = "draft" | "in_review" | "approved" | "rejected" | "expired";

export interface Evidence {
  id: string;
  kind: EvidenceKind;
  title: string;
  controls: string[];
  /** sha256 of the content (the canonical JSON of a snapshot, a file's bytes, a link's URL). */
  sha256: string;
  collectedAt: Date;
  validUntil?: Date;
  state: EvidenceState;
  /** Who added or reviewed it (snapshots: "rampart"). */
  addedBy: string;
  reviewedBy?: string;
  /** Link URL, or file name; snapshots name their run. */
  ref: string;
}

// ---------------------------------------------------------------------------------------------
// Tickets: one per failing item, following the test.

export interface TicketDraft {
  fingerprint: string;
  title: string;
  /** Markdown body: what failed, the observation, the remediation, the deadline. */
  body: string;
  labels: string[];
}

/** A ticket as the tracker holds it. */
export interface RemoteTicket {
  /** The tracker's key: "42" (GitHub/GitLab issue number or iid), "SEC-7" (Jira). */
  key: string;
  url: string;
  open: boolean;
}

/** One tracker's documented API, reduced to what following a test needs. */
export interface TicketTracker {
  readonly name: string;
  create(draft: TicketDraft): Promise<RemoteTicket>;
  get(key: string): Promise<RemoteTicket>;
  /** Adds a comment (the item still fails, with what was seen now). */
  comment(key: string, text: string): Promise<void>;
  close(key: string, comment: string): Promise<void>;
  reopen(key: string, comment: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Readiness: a framework's requirements rolled up from controls, checks and evidence.

export interface CheckSummary {
  id: string;
  title: string;
  source: CheckSource;
  remediation: string;
  /** When it last ran; absent if never. */
  lastRunAt?: Date;
  /** Set when the last run threw (the check could not read its evidence). */
  error?: string;
  items: ItemResult[];
}

export interface ControlReadiness {
  control: Control;
  status: ControlStatus;
  checks: CheckSummary[];
  evidence: Evidence[];
}

export interface RequirementReadiness {
  requirement: Requirement;
  status: RequirementStatus;
  controls: { id: string; relationship: Relationship; status: ControlStatus }[];
}

export interface FrameworkReadiness {
  framework: Framework;
  generatedAt: Date;
  /** The audit window the report covers, when one was asked for. */
  window?: { from: Date; to: Date };
  summary: {
    requirements: number;
    compliant: number;
    partiallyCompliant: number;
    nonCompliant: number;
    notAssessed: number;
    /** Share of assessed requirements that are compliant (partial counts half), 0..1. */
    score: number;
  };
  requirements: RequirementReadiness[];
  /** Every control mapped to the framework. */
  controls: ControlReadiness[];
}
