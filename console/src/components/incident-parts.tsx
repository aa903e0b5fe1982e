// Incident shapes as the console receives them, and the pills that show an incident's priority and
// state in words as well as colour. Kept beside the incidents page so the shared types stay small.

export type Priority = "P0" | "P1" | "P2" | "P3";
export const incidentStates = [
  "detected",
  "triaged",
  "contained",
  "eradicated",
  "recovered",
  "closed",
] as const;
export type IncidentState = (typeof incidentStates)[number];

export interface IncidentRecord {
  id: string;
  title: string;
  summary: string | null;
  priority: Priority;
  state: IncidentState;
  nextStates: IncidentState[];
  rule: string | null;
  commander: string | null;
  createdAt: string;
  acknowledgedAt: string | null;
  containedAt: string | null;
  recoveredAt: string | null;
  closedAt: string | null;
  playbookRuns: string[];
  autoEntries: number;
  autoDropped: number;
}

export interface TimelineEntry {
  id: number;
  at: string;
  kind: string;
  actor: string;
  text: string;
}

export type IncidentWithTimeline = IncidentRecord & { timeline: TimelineEntry[] };

export interface PlaybookRun {
  id: string;
  playbook: string;
  incident?: string;
  status: "running" | "waiting" | "completed" | "failed" | "dry_run";
  startedAt: string;
  endedAt?: string;
  triggeredBy: { kind: string; id: string; label: string };
  steps: { step: string; title: string; status: string; overdue: boolean }[];
}

const priorityWords: Record<Priority, string> = {
  P0: "P0 critical",
  P1: "P1 high",
  P2: "P2 medium",
  P3: "P3 low",
};

/** P0–P3 as a pill, the urgency in words on hover. */
export function PriorityPill({ priority }: { priority: Priority }) {
  return (
    <span className={`prio-pill prio-pill-${priority}`} title={priorityWords[priority]}>
      {priority}
    </span>
  );
}

const stateTones: Record<IncidentState, "good" | "warn" | "bad" | "muted"> = {
  detected: "bad",
  triaged: "warn",
  contained: "warn",
  eradicated: "good",
  recovered: "good",
  closed: "muted",
};

export const stateWord = (s: IncidentState) => s.charAt(0).toUpperCase() + s.slice(1);

export function StatePill({ state }: { state: IncidentState }) {
  return (
    <span className={`pill pill-${stateTones[state]}`} data-state={state}>
      {stateWord(state)}
    </span>
  );
}

const runTones: Record<PlaybookRun["status"], "good" | "warn" | "bad" | "muted"> = {
  running: "warn",
  waiting: "warn",
  completed: "good",
  failed: "bad",
  dry_run: "muted",
};

export function RunStatusPill({ status }: { status: PlaybookRun["status"] }) {
  const word = status === "dry_run" ? "Dry run" : status.charAt(0).toUpperCase() + status.slice(1);
  return <span className={`pill pill-${runTones[status]}`}>{word}</span>;
}
