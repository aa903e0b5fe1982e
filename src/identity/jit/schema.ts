// Durable record of just-in-time access: requests, the approvers' decisions, and the grants they
// produced. Enforcement reads hot state, never these tables (see grants.ts).
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

export type JitTables = {
  jit_requests: {
    id: string;
    requester: string;
    requester_email: string | null;
    role: string;
    scope_kind: string;
    scope_id: string;
    /** The environment the scope lies in (the route's tag for a route), fixed at request time. */
    environment: string | null;
    justification: string;
    duration_minutes: number;
    required_approvals: number;
    requested_at: Date;
    expires_at: Date;
    status: string;
    decided_at: Date | null;
    grant_id: string | null;
  };
  jit_approvals: {
    request_id: string;
    approver: string;
    approver_email: string | null;
    decision: string;
    comment: string | null;
    decided_at: Date;
  };
  jit_grants: {
    id: string;
    request_id: string | null;
    subject: string;
    role: string;
    scope_kind: string;
    scope_id: string;
    starts: Date;
    ends: Date;
    break_glass: boolean;
    reason: string | null;
    revoked_at: Date | null;
    revoked_by: string | null;
    /** When the scheduler recorded the expiry; enforcement never waits for it. */
    expired_at: Date | null;
  };
};

export const jitMigrations: Record<string, Migration> = {
  "2026-11-23-01-jit": {
    async up(db: Kysely<unknown>) {
      // One statement per query: PGlite, like the extended protocol, takes one at a time.
      for (const statement of [
        `create table jit_requests (
            id text primary key,
            requester text not null,
            requester_email text,
            role text not null,
            scope_kind text not null check (scope_kind in ('route', 'environment')),
            scope_id text not null,
            environment text,
            justification text not null,
            duration_minutes integer not null check (duration_minutes > 0),
            required_approvals integer not null check (required_approvals > 0),
            requested_at timestamptz not null,
            expires_at timestamptz not null,
            status text not null
              check (status in ('pending', 'approved', 'denied', 'expired', 'cancelled', 'revoked')),
            decided_at timestamptz,
            grant_id text
          )`,
        `create index jit_requests_pending on jit_requests (expires_at) where status = 'pending'`,
        `create index jit_requests_requester on jit_requests (requester, requested_at)`,
        // The primary key is what makes a second decision by the same approver impossible.
        `create table jit_approvals (
            request_id text not null references jit_requests (id),
            approver text not null,
            approver_email text,
            decision text not null check (decision in ('approve', 'deny')),
            comment text,
            decided_at timestamptz not null,
            primary key (request_id, approver)
          )`,
        `create table jit_grants (
            id text primary key,
            request_id text unique references jit_requests (id),
            subject text not null,
            role text not null,
            scope_kind text not null check (scope_kind in ('route', 'environment')),
            scope_id text not null,
            starts timestamptz not null,
            ends timestamptz not null check (ends > starts),
            break_glass boolean not null,
            reason text,
            revoked_at timestamptz,
            revoked_by text,
            expired_at timestamptz
          )`,
        `create index jit_grants_subject on jit_grants (subject, ends)`,
        `create index jit_grants_open on jit_grants (ends) where revoked_at is null and expired_at is null`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
};
