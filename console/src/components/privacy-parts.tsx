// What the privacy page's views share: the API's shapes (as the control plane answers them), the
// words for kinds and states, pills that say their state in words, and a clock that ticks.
import { useEffect, useState } from "react";
import { formatDateTime } from "../format.ts";

export type RequestState =
  | "received"
  | "verifying"
  | "verified"
  | "approved"
  | "processing"
  | "completed"
  | "rejected"
  | "cancelled"
  | "failed";

export type RequestKind =
  | "access"
  | "erasure"
  | "rectification"
  | "portability"
  | "objection"
  | "withdrawal"
  | "nominee"
  | "grievance";

/** A data-subject request as GET /api/v1/privacy/requests… answers it (addresses masked in lists). */
export interface PrivacyRequest {
  id: string;
  kind: RequestKind;
  state: RequestState;
  nextStates: RequestState[];
  email: string;
  action: "access" | "erasure" | "rectification" | "portability" | null;
  details: string | null;
  nominee: { name: string; ground: string; relation?: string; evidenceRef: string } | null;
  principalEmail: string | null;
  relatesTo: string | null;
  verification: "email_code" | "app_token" | "operator" | null;
  approvalRequired: boolean;
  receivedAt: string;
  verifiedAt: string | null;
  approvedAt: string | null;
  approvedBy: string | null;
  dueAt: string;
  overdue: boolean;
  extended: boolean;
  extensionReason: string | null;
  completedAt: string | null;
  resolution: string | null;
  rejectionReason: string | null;
  receipt: { keyId: string; collections: number; completedAt: string } | null;
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
}

export interface HistoryEntry {
  at: string;
  actor: string;
  action: string;
  note: string | null;
}

export type ClockState = "open" | "met" | "missed" | "waived";

export interface BreachClock {
  key: string;
  regime: string;
  recipient: string;
  label: string;
  hours: number;
  withoutDelay: boolean;
  startedAt: string;
  dueAt: string;
  metAt: string | null;
  state: ClockState;
}

export interface Breach {
  id: string;
  title: string;
  status: string;
  awareAt: string;
  incidentId: string | null;
  regimes: string[];
  clocks: BreachClock[];
}

export interface ConsentStats {
  at: string;
  subjects: number;
  purposes: { purpose: string; given: number; withdrawn: number; expired: number }[];
}

const kindWords: Record<RequestKind, string> = {
  access: "Access",
  erasure: "Erasure",
  rectification: "Rectification",
  portability: "Portability",
  objection: "Objection",
  withdrawal: "Withdrawal",
  nominee: "Nominee",
  grievance: "Grievance",
};
export const kindWord = (k: RequestKind): string => kindWords[k] ?? k;

const stateWords: Record<RequestState, string> = {
  received: "Received",
  verifying: "Verifying identity",
  verified: "Verified",
  approved: "Approved",
  processing: "Processing",
  completed: "Completed",
  rejected: "Rejected",
  cancelled: "Cancelled",
  failed: "Failed",
};
export const stateWord = (s: RequestState): string => stateWords[s] ?? s;

const stateTones: Record<RequestState, "good" | "warn" | "bad" | "muted"> = {
  received: "muted",
  verifying: "muted",
  verified: "warn",
  approved: "warn",
  processing: "warn",
  completed: "good",
  rejected: "muted",
  cancelled: "muted",
  failed: "bad",
};

export const isClosed = (s: RequestState): boolean =>
  s === "completed" || s === "rejected" || s === "cancelled";

export function RequestStatePill({ state }: { state: RequestState }) {
  return (
    <span className={`pill pill-${stateTones[state] ?? "muted"}`} data-state={state}>
      {stateWord(state)}
    </span>
  );
}

/** `a•••@example.com`, as the list endpoint masks it, for the one-request answer that does not. */
export function maskEmail(email: string): string {
  if (email.includes("•")) return email;
  const at = email.lastIndexOf("@");
  return at < 1 ? "•••" : `${email[0]}•••${email.slice(at)}`;
}

/** The current time, updated every `everyMs` while the component is shown. */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => setNow(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** "2 d 4 h", "3 h 12 min", "4 min 09 s": the largest two units of a span. */
export function span(ms: number, seconds = false): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return seconds ? `${h} h ${m} min ${String(sec).padStart(2, "0")} s` : `${h} h ${m} min`;
  if (m > 0) return seconds ? `${m} min ${String(sec).padStart(2, "0")} s` : `${m} min`;
  return `${sec} s`;
}

/** A request's deadline: the date, and the time left or by how much it is overdue (in words). */
export function Deadline({ dueAt, closed, now }: { dueAt: string; closed: boolean; now: number }) {
  const left = new Date(dueAt).getTime() - now;
  return (
    <span className="deadline">
      <time dateTime={dueAt}>{formatDateTime(dueAt)}</time>
      {!closed && (
        <span className={left < 0 ? "due-overdue" : left < 3 * 86_400_000 ? "due-soon" : "due-ok"}>
          {left < 0 ? `Overdue by ${span(left)}` : `${span(left)} left`}
        </span>
      )}
    </span>
  );
}
