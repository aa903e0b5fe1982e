// A breach record as the API, CLI and drafts see it.
import type { BreachRegime, ClockKey, ClockState, NotificationRecipient } from "./clocks.ts";
import type { BreachStatus } from "./schema.ts";

export interface BreachClock {
  key: ClockKey;
  regime: BreachRegime;
  recipient: NotificationRecipient;
  label: string;
  hours: number;
  /** A "without delay" duty whose hours are our target rather than the law's figure. */
  withoutDelay: boolean;
  startedAt: string;
  dueAt: string;
  metAt: string | null;
  state: ClockState;
}

export interface BreachNotification {
  id: number;
  regime: BreachRegime;
  recipient: NotificationRecipient;
  sentAt: string;
  reference: string | null;
  recordedAt: string;
  recordedBy: string;
}

export interface Breach {
  id: string;
  title: string;
  description: string;
  status: BreachStatus;
  /** Why it was found not reportable, or the note of the last move. */
  statusReason: string | null;
  nextStatuses: BreachStatus[];
  awareAt: string;
  detectedAt: string;
  incidentId: string | null;
  regimes: BreachRegime[];
  dataCategories: string[];
  subjectCategories: string[];
  approxSubjects: number | null;
  approxRecords: number | null;
  regions: string[];
  systems: string[];
  incidentType: string | null;
  consequences: string | null;
  measures: string | null;
  createdAt: string;
  updatedAt: string;
  createdBy: string;
  clocks: BreachClock[];
  notifications: BreachNotification[];
}

export const draftKinds = [
  "gdpr_authority",
  "dpdp_board_intimation",
  "dpdp_board_report",
  "dpdp_principals",
  "cert_in_report",
] as const;
export type DraftKind = (typeof draftKinds)[number];

export interface BreachDraft {
  kind: DraftKind;
  regime: BreachRegime;
  recipient: NotificationRecipient;
  title: string;
  format: "markdown";
  body: string;
  /** Facts the draft needs and the record lacks: fill them in before sending. */
  missing: string[];
}
