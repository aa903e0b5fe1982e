// What a detection rule produces, and the priority scale incidents and alerts share.
import type { EventRef, Severity } from "../../platform/events/index.ts";

/** P0 (all hands, now) … P3 (look at it this week). */
export const priorities = ["P0", "P1", "P2", "P3"] as const;
export type Priority = (typeof priorities)[number];

/** The event severity a priority is reported with on the spine. */
export const prioritySeverity: Record<Priority, Severity> = {
  P0: "critical",
  P1: "high",
  P2: "medium",
  P3: "low",
};

/** `a` is at least as urgent as `b` (P0 is the most urgent). */
export const atLeast = (a: Priority, b: Priority): boolean => priorities.indexOf(a) <= priorities.indexOf(b);

/** One firing of one rule for one group (an account, an address, a route…). */
export interface Detection {
  /** Unique per firing. */
  id: string;
  /** The rule's id, e.g. `credential-new-ip`. */
  rule: string;
  /** The rule's title: one line for people. */
  title: string;
  priority: Priority;
  /**
   * Stable for a rule and a group: alerts and incidents deduplicate on it
   * (`<rule>:<sha256 of the group's values, 16 hex>`).
   */
  fingerprint: string;
  /** The group's named values, e.g. `{ credential: "k3j…", ip: "203.0.113.7" }`; never secrets. */
  group: Record<string, string>;
  /** Events (weighted by their `data.count`) or distinct values in the window when it fired. */
  count: number;
  /** Event times of the window's first and last events that counted. */
  firstAt: string;
  lastAt: string;
  firedAt: string;
  /** Ids of the contributing events, newest last, at most 20: evidence for the incident. */
  events: string[];
  /** Actors and targets of the contributing events, deduplicated, at most 20. */
  entities: EventRef[];
  /** One line for people, from the rule's summary template; holds no secrets. */
  summary: string;
}
