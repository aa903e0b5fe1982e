// Tables of the data-subject-request workflow and the input shapes the service, API and CLI share.
import { type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { engineActions, requestKindNames, requestStates } from "./states.ts";

export type RequestTables = {
  privacy_requests: {
    id: string;
    kind: string;
    state: string;
    /** Where mail goes: the requester (a nominee's own address for nominee requests). */
    email: string;
    /** Identity type → value the engine looks the person up by (JSON). */
    identities: string;
    /** Engine action for a nominee request; null otherwise. */
    action: string | null;
    details: string | null;
    /** Kind-specific parts (nominee, corrections, related request) as JSON. */
    extra: string;
    verification: string | null;
    otp_hash: string | null;
    otp_salt: string | null;
    otp_expires_at: Date | null;
    otp_attempts: number;
    otp_sends: number;
    otp_sent_at: Date | null;
    status_token_hash: string;
    download_token_hash: string | null;
    download_expires_at: Date | null;
    approval_required: boolean;
    received_at: Date;
    verified_at: Date | null;
    approved_at: Date | null;
    approved_by: string | null;
    due_at: Date;
    extended: boolean;
    extension_reason: string | null;
    reminders: string;
    overdue_flagged: boolean;
    completed_at: Date | null;
    resolution: string | null;
    rejection_reason: string | null;
    receipt: string | null;
    attempts: number;
    next_attempt_at: Date | null;
    last_error: string | null;
    lease_until: Date | null;
    updated_at: Date;
  };
  privacy_request_history: {
    id: Generated<string>;
    request_id: string;
    at: Date;
    actor: string;
    action: string;
    note: string | null;
  };
};

export const requestMigrations: Record<string, Migration> = {
  "2026-11-26-10-privacy-requests": {
    async up(db: Kysely<unknown>) {
      await sql`create table privacy_requests (
          id text primary key,
          kind text not null,
          state text not null,
          email text not null,
          identities text not null,
          action text,
          details text,
          extra text not null default '{}',
          verification text,
          otp_hash text,
          otp_salt text,
          otp_expires_at timestamptz,
          otp_attempts integer not null default 0,
          otp_sends integer not null default 0,
          otp_sent_at timestamptz,
          status_token_hash text not null,
          download_token_hash text,
          download_expires_at timestamptz,
          approval_required boolean not null,
          received_at timestamptz not null,
          verified_at timestamptz,
          approved_at timestamptz,
          approved_by text,
          due_at timestamptz not null,
          extended boolean not null default false,
          extension_reason text,
          reminders text not null default '[]',
          overdue_flagged boolean not null default false,
          completed_at timestamptz,
          resolution text,
          rejection_reason text,
          receipt text,
          attempts integer not null default 0,
          next_attempt_at timestamptz,
          last_error text,
          lease_until timestamptz,
          updated_at timestamptz not null
        )`.execute(db);
      await sql`create index privacy_requests_state_due on privacy_requests (state, due_at)`.execute(db);
      await sql`create index privacy_requests_received on privacy_requests (received_at)`.execute(db);
      await sql`create table privacy_request_history (
          id bigserial primary key,
          request_id text not null references privacy_requests (id),
          at timestamptz not null,
          actor text not null,
          action text not null,
          note text
        )`.execute(db);
      await sql`create index privacy_request_history_request on privacy_request_history (request_id, id)`.execute(
        db,
      );
    },
  },
};

const text = (max: number) => z.string().trim().min(1).max(max);
const email = z.email().max(254).trim().toLowerCase();

export const correctionSchema = z.strictObject({
  /** "dataset.collection.field" as in the data map. */
  field: z
    .string()
    .regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_.-]+$/, "expected dataset.collection.field"),
  value: z.union([z.string().max(2000), z.number(), z.boolean(), z.null()]),
});

/** The public intake: strict, small, one shape per kind. */
export const intakeSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.enum(["access", "erasure", "portability", "objection", "withdrawal"]),
    email: email.optional(),
    details: text(2000).optional(),
    appToken: z.string().min(10).max(8192).optional(),
  }),
  z.strictObject({
    kind: z.literal("rectification"),
    email: email.optional(),
    details: text(2000),
    appToken: z.string().min(10).max(8192).optional(),
  }),
  z.strictObject({
    kind: z.literal("nominee"),
    /** The nominee's own address: codes and answers go there. */
    email,
    action: z.enum(engineActions),
    nominee: z.strictObject({
      name: text(200),
      /** Why they act: the principal is deceased or incapacitated (DPDP s.14). */
      ground: z.enum(["deceased", "incapacitated"]),
      relation: text(200).optional(),
      /** Where the evidence (nomination, certificate) is: a reference a person checks, not the file. */
      evidenceRef: text(500),
    }),
    principal: z.strictObject({ email }),
    details: text(2000).optional(),
  }),
  z.strictObject({
    kind: z.literal("grievance"),
    email,
    details: text(4000),
    /** The request the complaint is about, when there is one. */
    relatesTo: z
      .string()
      .regex(/^dsr_[a-z0-9]{20,40}$/)
      .optional(),
  }),
]);
export type Intake = z.infer<typeof intakeSchema>;

/** An operator records a request received by post, phone or in person. */
export const recordSchema = z.strictObject({
  request: intakeSchema,
  /** How the person's identity was checked, for the history (e.g. "ID card seen at the front desk"). */
  identityCheck: text(1000),
});

export const verifySchema = z.strictObject({
  code: z
    .string()
    .trim()
    .regex(/^\d{6,10}$/, "expected the digits of the code"),
});
export const tokenSchema = z.strictObject({ token: z.string().min(20).max(200) });

export const approveSchema = z.strictObject({
  note: text(2000).optional(),
  /** Rectification: what to change (a person reads the request's details and decides). */
  corrections: z.array(correctionSchema).min(1).max(100).optional(),
});
export type ApproveInput = z.infer<typeof approveSchema>;
export const reasonSchema = z.strictObject({ reason: text(2000) });
export const completeSchema = z.strictObject({
  resolution: text(4000),
  /** Where the requester finds the answer (a link or attachment reference). */
  link: text(2000).optional(),
});
export const stateSchema = z.enum(requestStates);
export const kindSchema = z.enum(requestKindNames);
