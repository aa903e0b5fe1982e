// The life cycle of a breach record. Notifications move it forward on their own (recording a
// notification to the authority moves an assessed breach to notified_authority); people move it
// through the rest.
import type { BreachStatus } from "./schema.ts";

const moves: Record<BreachStatus, readonly BreachStatus[]> = {
  detected: ["assessed", "not_reportable", "notified_authority", "notified_subjects"],
  assessed: ["notified_authority", "notified_subjects", "not_reportable", "closed"],
  notified_authority: ["notified_subjects", "closed"],
  notified_subjects: ["closed"],
  // New facts can make a breach reportable after all.
  not_reportable: ["assessed", "closed"],
  closed: [],
};

export const nextStatuses = (s: BreachStatus): readonly BreachStatus[] => moves[s];
export const canMoveBreach = (from: BreachStatus, to: BreachStatus): boolean => moves[from].includes(to);

/** Clocks stop running (no reminders, no "missed") once a breach is not reportable or closed. */
export const clocksStopped = (s: BreachStatus): boolean => s === "not_reportable" || s === "closed";

const progress: BreachStatus[] = ["detected", "assessed", "notified_authority", "notified_subjects"];

/** The status after a notification to the authority or subjects: forward only, never back. */
export function statusAfterNotice(
  s: BreachStatus,
  to: "notified_authority" | "notified_subjects",
): BreachStatus {
  const at = progress.indexOf(s);
  return at >= 0 && at < progress.indexOf(to) ? to : s;
}
