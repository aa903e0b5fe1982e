// The shapes every least-privilege analyser (AWS, GCP, Kubernetes) normalises to, so one report
// writer and one CLI can serve all three platforms.

/** The platforms a least-privilege analysis can run on. */
export type IamPlatform = "aws" | "gcp" | "k8s";

/** What a policy grants one principal: one permission on one resource pattern. */
export interface Grant {
  principal: string;
  /** Platform-native permission: `s3:GetObject`, `storage.objects.get`, `get pods`. */
  permission: string;
  /** Resource pattern the grant covers (`*` for any). */
  resource: string;
  /** Conditions the grant carries, platform-native, kept as they are. */
  conditions?: unknown;
}

/** Whether the platform allowed an observed call. */
export type UseOutcome = "allowed" | "denied";

/** One observed call (or many identical calls aggregated into one). */
export interface Use {
  principal: string;
  permission: string;
  resource?: string;
  /** ISO 8601 time of the call (the last one when aggregated). */
  time: string;
  outcome: UseOutcome;
}

/** A permission with how often and when it was used. */
export interface UsedPermission {
  permission: string;
  /** Calls allowed in the window. */
  count: number;
  firstSeen: string;
  lastSeen: string;
  /** Resources the calls named (capped; `resourcesComplete` says whether every call named one). */
  resources: string[];
  resourcesComplete: boolean;
}

/** A permission the principal tried and was refused: reported apart, never granted. */
export interface DeniedAttempt {
  permission: string;
  count: number;
  lastSeen: string;
  resources: string[];
}

/** Risk categories flagged on a permission set (after Cloudsplaining's and Rhino Security Labs' lists). */
export interface RiskFlags {
  privesc: string[];
  dataAccess: string[];
  credentialsExposure: string[];
  resourceExposure: string[];
}

/** Outcome of replaying every observed allowed call against a policy. */
export interface Verification {
  /** Distinct calls replayed (identical calls are replayed once: the evaluation is deterministic). */
  replayed: number;
  allowed: number;
  /** Calls the policy would refuse: a regression, must be empty for the proposal. */
  denied: { permission: string; resource?: string; reason: string }[];
}

/** One principal's least-privilege analysis. */
export interface PrincipalAnalysis {
  principal: string;
  platform: IamPlatform;
  window: { from: string; to: string };
  /** Permissions used and granted, sorted. */
  used: UsedPermission[];
  /** Permissions granted but not used in the window, sorted (expanded: no wildcards). */
  unused: string[];
  /** Used, allowed by the platform, but not granted by the analysed policies (granted elsewhere). */
  usedNotGranted: string[];
  /** Tried and refused: not granted by the proposal. */
  denied: DeniedAttempt[];
  /** The platform-native minimised policy (AWS: policy documents; GCP: roles; K8s: Role objects). */
  proposed: unknown;
  /** The platform-native original, for rollback. */
  original: unknown;
  diff: { removed: string[]; kept: string[] };
  /** Number of permissions the original and the proposal effectively grant (expanded). */
  effective: { before: number; after: number };
  /** 1 − after/before, as a percentage with one decimal (0 when before is 0). */
  reductionPercent: number;
  risk: { before: RiskFlags; after: RiskFlags };
  verification: { proposed: Verification; original?: Verification };
  /** Things the reader should know: unresolved policies, truncated resource lists, and so on. */
  notes: string[];
}

/** A whole run: what was read and every principal's analysis. */
export interface IamAnalysisReport {
  platform: IamPlatform;
  window: { from: string; to: string };
  /** Events read, events used (in the window, mapped), events skipped with why. */
  events: { read: number; inWindow: number; skipped: Record<string, number> };
  principals: PrincipalAnalysis[];
  /** Run-level remarks: principals in the logs with no policy, unresolved managed policies. */
  notes: string[];
}

/** The empty risk-flag set. */
export function noRisk(): RiskFlags {
  return { privesc: [], dataAccess: [], credentialsExposure: [], resourceExposure: [] };
}
