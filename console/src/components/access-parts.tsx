// Shared pieces of the Access page: the API's shapes for JIT requests, grants, API keys, service
// accounts and sessions, a clock that ticks each second for countdowns, and small display helpers.
import { useEffect, useState } from "react";
import { formatDateTime, fromNow } from "../format.ts";

export interface JitScope {
  kind: "route" | "environment";
  id: string;
}

export type JitRequestStatus = "pending" | "approved" | "denied" | "expired" | "cancelled" | "revoked";

export interface JitRequest {
  id: string;
  requester: string;
  role: string;
  scope: JitScope;
  environment: string | null;
  justification: string;
  durationMinutes: number;
  requiredApprovals: number;
  requestedAt: string;
  expiresAt: string;
  status: JitRequestStatus;
  decidedAt: string | null;
  grantId: string | null;
  decisions: { approver: string; decision: "approve" | "deny"; comment: string | null; decidedAt: string }[];
}

export interface AccessGrant {
  id: string;
  requestId: string | null;
  subject: string;
  role: string;
  scope: JitScope;
  starts: string;
  ends: string;
  breakGlass: boolean;
  reason: string | null;
}

export interface ApiKey {
  id: string;
  kind: "user" | "service";
  subject: string;
  scopes: string[];
  description: string;
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
}

export interface ServiceAccount {
  name: string;
  description: string;
  roles: string[];
  scopes: string[];
  clientSecrets: number;
  certificates: number;
}

export interface SsoSession {
  subject: string;
  email?: string;
  name?: string;
  provider: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

/** Epoch milliseconds now, re-rendering every `everyMs` while mounted. */
export function useNow(everyMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** "1 h 05 min 09 s left" down to "expired", for a grant's end. */
export function timeLeft(endsIso: string, now: number): string {
  const s = Math.floor((new Date(endsIso).getTime() - now) / 1000);
  if (s <= 0) return "expired";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, "0");
  if (h > 0) return `${h} h ${two(m)} min ${two(sec)} s left`;
  if (m > 0) return `${m} min ${two(sec)} s left`;
  return `${sec} s left`;
}

export const scopeText = (s: JitScope) => `${s.kind === "route" ? "route" : "environment"} ${s.id}`;

export function When({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={formatDateTime(iso)}>
      {fromNow(iso)}
    </time>
  );
}

const requestTones: Record<JitRequestStatus, "good" | "warn" | "bad" | "muted"> = {
  pending: "warn",
  approved: "good",
  denied: "bad",
  expired: "muted",
  cancelled: "muted",
  revoked: "bad",
};

/** A request's status as a pill with its name in words. */
export function RequestPill({ status }: { status: JitRequestStatus }) {
  return (
    <span className={`pill pill-${requestTones[status]}`}>{status[0]!.toUpperCase() + status.slice(1)}</span>
  );
}

/** A disabled control's reason, beside it and on a wrapper (a disabled button gets no hover). */
export function Why({ id, why }: { id: string; why: string | null }) {
  if (!why) return null;
  return (
    <span id={id} className="muted small access-why">
      {why}
    </span>
  );
}
