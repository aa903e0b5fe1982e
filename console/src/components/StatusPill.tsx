// A status as a coloured pill with its name in words (colour is never the only signal).
import type { ControlStatus, ItemStanding, RequirementStatus } from "../types.ts";

type Status = ControlStatus | ItemStanding | RequirementStatus;

const words: Record<Status, string> = {
  compliant: "Compliant",
  partially_compliant: "Partial",
  non_compliant: "Non-compliant",
  not_assessed: "Not assessed",
  passing: "Passing",
  at_risk: "At risk",
  failing: "Failing",
  overdue: "Overdue",
  excepted: "Excepted",
  not_applicable: "N/A",
  needs_evidence: "Needs evidence",
};

const tones: Record<Status, "good" | "warn" | "bad" | "muted"> = {
  compliant: "good",
  passing: "good",
  excepted: "muted",
  partially_compliant: "warn",
  at_risk: "warn",
  needs_evidence: "warn",
  non_compliant: "bad",
  failing: "bad",
  overdue: "bad",
  not_assessed: "muted",
  not_applicable: "muted",
};

export function StatusPill({ status }: { status: Status }) {
  return <span className={`pill pill-${tones[status]}`}>{words[status]}</span>;
}
