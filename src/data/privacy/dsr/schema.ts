// Tables of the data-subject-request engine (a request and its per-collection tasks, enough to
// resume after a crash) and the request shape the engine, API and CLI share.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { maskingStrategyNames } from "../masking.ts";
import { requestKinds } from "./types.ts";

export const requestStatuses = ["running", "completed", "failed"] as const;
export type RequestStatus = (typeof requestStatuses)[number];
export const taskPhases = ["access", "erasure", "rectification"] as const;
export type TaskPhase = (typeof taskPhases)[number];
export const taskStates = ["pending", "running", "done"] as const;
export type TaskState = (typeof taskStates)[number];

export type DsrTables = {
  privacy_dsr_requests: {
    id: string;
    kind: string;
    status: string;
    /** JSON identity type → value; emptied when the request finishes. */
    identities: string;
    /** JSON erasure policy as given (defaults applied at run time). */
    policy: string;
    /** JSON corrections; emptied when the request finishes (the new values are personal data). */
    corrections: string;
    /** Base64 masking secret (32 bytes); removed at the end unless aes_encrypt tokens must stay reversible. */
    secret: string | null;
    started_at: Date;
    finished_at: Date | null;
    /** JSON DsrReceipt once completed. */
    receipt: string | null;
    /** Canonical JSON access export, kept for the subject; its SHA-256 is in the receipt. */
    export_json: string | null;
    /** Why the last attempt failed, without personal data. */
    error: string | null;
    attempts: number;
    /** The engine instance running the request, and until when its claim holds (renewed at every step). */
    lease_owner: string | null;
    lease_until: Date | null;
  };
  privacy_dsr_tasks: {
    request_id: string;
    phase: string;
    collection: string;
    state: string;
    /** JSON FoundRow[] found by access (mapped top-level fields only); dropped when the request finishes. */
    rows: string | null;
    /** JSON CollectionOutcome fragment of this phase. */
    outcome: string | null;
    updated_at: Date;
  };
};

export const dsrMigrations: Record<string, Migration> = {
  "2026-11-26-01-privacy-dsr": {
    async up(db: Kysely<unknown>) {
      await sql`create table privacy_dsr_requests (
          id text primary key,
          kind text not null,
          status text not null,
          identities text not null default '{}',
          policy text not null default '{}',
          corrections text not null default '[]',
          secret text,
          started_at timestamptz not null,
          finished_at timestamptz,
          receipt text,
          export_json text,
          error text,
          attempts integer not null default 0,
          lease_owner text,
          lease_until timestamptz
        )`.execute(db);
      await sql`create index privacy_dsr_requests_status on privacy_dsr_requests (status)`.execute(db);
      await sql`create table privacy_dsr_tasks (
          request_id text not null references privacy_dsr_requests (id) on delete cascade,
          phase text not null,
          collection text not null,
          state text not null,
          rows text,
          outcome text,
          updated_at timestamptz not null,
          primary key (request_id, phase, collection)
        )`.execute(db);
    },
  },
};

const maskingSchema = z.strictObject({
  strategy: z.enum(maskingStrategyNames),
  configuration: z
    .strictObject({
      rewrite_value: z.string().max(1000).optional(),
      length: z.number().int().min(1).max(1000).optional(),
      algorithm: z.enum(["SHA-256", "SHA-512"]).optional(),
    })
    .optional(),
});

/** A request as the API and CLI accept it. */
export const dsrRequestSchema = z.strictObject({
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, "expected 1-128 letters, digits, '.', '_', ':' or '-'"),
  kind: z.enum(requestKinds),
  identities: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "expected an identity type such as 'email'"),
      z.string().min(1).max(1000),
    )
    .refine((r) => Object.keys(r).length > 0, "at least one identity is needed"),
  policy: z
    .strictObject({
      categories: z.array(z.string().min(1).max(200)).min(1).max(100).optional(),
      masking: maskingSchema.optional(),
      force: z.enum(["delete", "mask"]).optional(),
    })
    .optional(),
  corrections: z
    .array(z.strictObject({ field: z.string().min(3).max(500), value: z.unknown() }))
    .max(1000)
    .optional(),
});

/** rampart.yaml's `privacy.dsr:` section. */
export const dsrConfigSchema = z.strictObject({
  /** A collection yielding more rows than this for one subject fails the request (a reference is probably wrong). */
  maxRowsPerCollection: z.number().int().min(1).max(1_000_000).default(10_000),
  /** How long a server's claim on a running request holds without progress before another may resume it. */
  leaseSeconds: z.number().int().min(10).max(86_400).default(600),
  /** Resume requests a crash left unfinished when the server starts. */
  resumeOnStart: z.boolean().default(true),
});
export type DsrConfig = z.output<typeof dsrConfigSchema>;
