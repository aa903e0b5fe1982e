// The incident life cycle: detected → triaged → contained → eradicated → recovered → closed.
// Forward moves may skip steps that do not apply, but nothing closes before it has recovered;
// new evidence loops an eradicated or recovered incident back to `contained`; a closed incident
// reopens to `triaged`.
import type { Priority } from "../detect/types.ts";

export const incidentStates = [
  "detected",
  "triaged",
  "contained",
  "eradicated",
  "recovered",
  "closed",
] as const;
export type IncidentState = (typeof incidentStates)[number];

const rank = (s: IncidentState) => incidentStates.indexOf(s);

/** States `from` may move to, in life-cycle order. */
export function nextStates(from: IncidentState): IncidentState[] {
  if (from === "closed") return ["triaged"];
  const next = incidentStates.filter((s) => rank(s) > rank(from) && s !== "closed");
  if (from === "recovered") next.push("closed");
  // Loop back to contain when new evidence turns up after containment.
  if (from === "eradicated" || from === "recovered") next.unshift("contained");
  return next;
}

/** Whether `from → to` is a move of the life cycle (the review rule for P0/P1 is checked apart). */
export const canMove = (from: IncidentState, to: IncidentState): boolean => nextStates(from).includes(to);

/** P0 and P1 incidents need a post-incident review before they close. */
export const reviewRequired = (p: Priority): boolean => p === "P0" || p === "P1";

/** Still being worked on: every state but closed. */
export const isOpen = (s: IncidentState): boolean => s !== "closed";

/** At or past containment (containment is implied when a step is skipped on the way to recovery). */
export const isContained = (s: IncidentState): boolean => rank(s) >= rank("contained") && s !== "closed";
