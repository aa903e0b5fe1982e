// Small helpers the report renderers share: escaping, dates, labels and per-check counts, so the
// HTML, CSV and PDF say the same thing about the same readiness.
import type {
  CheckSummary,
  ControlStatus,
  EvidenceState,
  ItemResult,
  ItemStanding,
  RequirementStatus,
} from "../model.ts";

export const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** "2026-11-23 17:30 UTC": minutes are enough for people; machines read the JSON. */
export const formatTime = (d: Date): string => `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;

export const formatDay = (d: Date): string => d.toISOString().slice(0, 10);

export const requirementLabels: Record<RequirementStatus, string> = {
  compliant: "Compliant",
  partially_compliant: "Partially compliant",
  non_compliant: "Non-compliant",
  not_assessed: "Not assessed",
};

export const controlLabels: Record<ControlStatus, string> = {
  passing: "Passing",
  at_risk: "At risk",
  failing: "Failing",
  needs_evidence: "Needs evidence",
  not_applicable: "Not applicable",
};

export const standingLabels: Record<ItemStanding, string> = {
  passing: "Passing",
  at_risk: "At risk",
  failing: "Failing",
  overdue: "Overdue",
  excepted: "Excepted",
  not_applicable: "Not applicable",
};

export const evidenceLabels: Record<EvidenceState, string> = {
  draft: "Draft",
  in_review: "In review",
  approved: "Approved",
  rejected: "Rejected",
  expired: "Expired",
};

export interface CheckCounts {
  passing: number;
  atRisk: number;
  failing: number;
  overdue: number;
  excepted: number;
  notApplicable: number;
}

export function countItems(items: readonly ItemResult[]): CheckCounts {
  const c: CheckCounts = { passing: 0, atRisk: 0, failing: 0, overdue: 0, excepted: 0, notApplicable: 0 };
  for (const i of items) {
    if (i.standing === "passing") c.passing++;
    else if (i.standing === "at_risk") c.atRisk++;
    else if (i.standing === "failing") c.failing++;
    else if (i.standing === "overdue") c.overdue++;
    else if (i.standing === "excepted") c.excepted++;
    else c.notApplicable++;
  }
  return c;
}

/** Items that fail and are not covered by an exception: at risk, failing or overdue. */
export const isOpenFailure = (i: ItemResult): boolean =>
  i.standing === "at_risk" || i.standing === "failing" || i.standing === "overdue";

export const openFailures = (checks: readonly CheckSummary[]): ItemResult[] =>
  checks.flatMap((c) => c.items.filter(isOpenFailure));
