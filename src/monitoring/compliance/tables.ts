// Durable state of continuous compliance: each check's runs, the current result per item (with
// when it began failing, which the SLA counts from), exceptions, and evidence (automatic snapshots
// and what people add). JSON columns are text so one schema serves PostgreSQL and PGlite.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

export type ComplianceTables = {
  compliance_runs: {
    id: string;
    check_id: string;
    started_at: Date;
    finished_at: Date;
    /** JSON {pass, fail, not_applicable}. */
    counts: string;
    error: string | null;
    evidence_id: string | null;
  };
  /** Each check's latest run: what a control's status rests on. */
  compliance_checks: {
    check_id: string;
    last_run_id: string;
    last_run_at: Date;
    last_error: string | null;
  };
  compliance_items: {
    check_id: string;
    resource: string;
    fingerprint: string;
    status: string;
    detail: string;
    observed: string | null;
    first_failed_at: Date | null;
    last_passed_at: Date | null;
    last_run_at: Date;
  };
  compliance_exceptions: {
    id: string;
    check_id: string;
    resource: string;
    justification: string;
    requested_by: string;
    approved_by: string | null;
    state: string;
    expires_at: Date;
    created_at: Date;
    decided_at: Date | null;
  };
  compliance_evidence: {
    id: string;
    kind: string;
    title: string;
    /** JSON array of control ids. */
    controls: string;
    sha256: string;
    collected_at: Date;
    valid_until: Date | null;
    state: string;
    added_by: string;
    reviewed_by: string | null;
    review_note: string | null;
    ref: string;
    check_id: string | null;
    /** A snapshot's canonical JSON or an uploaded file's bytes; null for links and attestations. */
    content: Buffer | null;
  };
};

export const complianceMigrations: Record<string, Migration> = {
  "2026-11-27-01-compliance": {
    async up(db: Kysely<unknown>) {
      await sql`create table compliance_runs (
          id text primary key,
          check_id text not null,
          started_at timestamptz not null,
          finished_at timestamptz not null,
          counts text not null,
          error text,
          evidence_id text
        )`.execute(db);
      await sql`create index compliance_runs_by_check on compliance_runs (check_id, started_at)`.execute(db);
      await sql`create table compliance_checks (
          check_id text primary key,
          last_run_id text not null,
          last_run_at timestamptz not null,
          last_error text
        )`.execute(db);
      await sql`create table compliance_items (
          check_id text not null,
          resource text not null,
          fingerprint text not null,
          status text not null,
          detail text not null,
          observed text,
          first_failed_at timestamptz,
          last_passed_at timestamptz,
          last_run_at timestamptz not null,
          primary key (check_id, resource)
        )`.execute(db);
      await sql`create table compliance_exceptions (
          id text primary key,
          check_id text not null,
          resource text not null,
          justification text not null,
          requested_by text not null,
          approved_by text,
          state text not null,
          expires_at timestamptz not null,
          created_at timestamptz not null,
          decided_at timestamptz
        )`.execute(db);
      await sql`create table compliance_evidence (
          id text primary key,
          kind text not null,
          title text not null,
          controls text not null,
          sha256 text not null,
          collected_at timestamptz not null,
          valid_until timestamptz,
          state text not null,
          added_by text not null,
          reviewed_by text,
          review_note text,
          ref text not null,
          check_id text,
          content bytea
        )`.execute(db);
      await sql`create index compliance_evidence_by_check on compliance_evidence (check_id, collected_at)`.execute(
        db,
      );
    },
  },
};
