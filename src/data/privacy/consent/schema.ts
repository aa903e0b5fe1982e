// Consent tables (an append-only, per-subject hash-chained ledger and the current state it
// implies) and the input shapes the ledger, API and CLI share.
import { type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { isIsoDuration, parseIsoDuration } from "../duration.ts";

export const consentStates = ["given", "withdrawn"] as const;
export type ConsentState = (typeof consentStates)[number];
export const consentChannels = ["web", "app", "email", "paper", "api", "consent_manager"] as const;
export type ConsentChannel = (typeof consentChannels)[number];
export const jurisdictions = ["gdpr", "dpdp"] as const;
export type Jurisdiction = (typeof jurisdictions)[number];
/** How a guardian's identity and age were verified (DPDP Rules 2025, rule 10). */
export const parentalMethods = [
  "digilocker_token",
  "id_document",
  "existing_verified_adult",
  "consent_manager",
  "other",
] as const;

export type ConsentTables = {
  consent_ledger: {
    id: Generated<number>;
    subject_hash: string;
    /** Position in the subject's chain, from 1. */
    seq: number;
    purpose: string;
    state: string;
    notice_id: string;
    notice_hash: string;
    channel: string;
    jurisdiction: string;
    evidence: string;
    expires_at: Date | null;
    child: boolean;
    parental: string | null;
    subject_ref: string | null;
    recorded_at: Date;
    recorded_by: string;
    prev_hash: string;
    hash: string;
  };
  consent_current: {
    subject_hash: string;
    purpose: string;
    state: string;
    notice_id: string;
    notice_hash: string;
    channel: string;
    jurisdiction: string;
    since: Date;
    expires_at: Date | null;
    seq: number;
  };
  /** One row per subject: the chain head (locked while appending) and what holds for all purposes. */
  consent_subjects: {
    subject_hash: string;
    last_seq: number;
    last_hash: string;
    child: boolean;
    parental: string | null;
    subject_ref: string | null;
    updated_at: Date;
  };
};

export const consentMigrations: Record<string, Migration> = {
  "2026-11-26-20-consent": {
    async up(db: Kysely<unknown>) {
      for (const statement of [
        `create table consent_subjects (
            subject_hash text primary key,
            last_seq integer not null,
            last_hash text not null,
            child boolean not null default false,
            parental text,
            subject_ref text,
            updated_at timestamptz not null
          )`,
        `create table consent_ledger (
            id bigserial primary key,
            subject_hash text not null references consent_subjects (subject_hash),
            seq integer not null,
            purpose text not null,
            state text not null check (state in ('given', 'withdrawn')),
            notice_id text not null,
            notice_hash text not null,
            channel text not null,
            jurisdiction text not null,
            evidence text not null default '{}',
            expires_at timestamptz,
            child boolean not null,
            parental text,
            subject_ref text,
            recorded_at timestamptz not null,
            recorded_by text not null,
            prev_hash text not null,
            hash text not null,
            unique (subject_hash, seq)
          )`,
        `create index consent_ledger_recorded on consent_ledger (recorded_at)`,
        `create table consent_current (
            subject_hash text not null references consent_subjects (subject_hash),
            purpose text not null,
            state text not null,
            notice_id text not null,
            notice_hash text not null,
            channel text not null,
            jurisdiction text not null,
            since timestamptz not null,
            expires_at timestamptz,
            seq integer not null,
            primary key (subject_hash, purpose)
          )`,
        // Proof of consent must survive edits by anyone with table access; only the retention purge,
        // which sets rampart.consent_expiry for its own transaction, may delete whole expired chains.
        `create function consent_ledger_append_only() returns trigger language plpgsql as $$
          begin
            if tg_op = 'DELETE' and current_setting('rampart.consent_expiry', true) = 'on' then
              return old;
            end if;
            raise exception 'consent ledger entries are append-only (% refused)', tg_op;
          end $$`,
        `create trigger consent_ledger_append_only before update or delete on consent_ledger
            for each row execute function consent_ledger_append_only()`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
};

/** Purpose keys: fideslang-style dotted data uses. */
export const purposeKey = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-z0-9_]+(\.[a-z0-9_]+)*$/, "expected a purpose key of [a-z0-9_] words joined by dots");

/** The app's id for a person; only its keyed HMAC is stored. */
export const subjectId = z.string().min(1).max(512);

const sha256Hex = z
  .string()
  .regex(/^[0-9a-f]{64}$/i, "expected the SHA-256 of the notice text as 64 hex digits")
  .transform((s) => s.toLowerCase());

/** The notice shown: its version id and the SHA-256 of its text (or the text, hashed here and not kept). */
export const noticeSchema = z.union([
  z.strictObject({ id: z.string().min(1).max(200), hash: sha256Hex }),
  z.strictObject({ id: z.string().min(1).max(200), text: z.string().min(1).max(1_000_000) }),
]);

const instant = z.iso.datetime({ offset: true }).or(z.iso.date());

/** Verifiable consent of a parent or lawful guardian (DPDP s.9(1), GDPR Art. 8). */
export const parentalConsentSchema = z.strictObject({
  /** The guardian as the app knows them (a reference, not their name or email). */
  guardianRef: z.string().min(1).max(200),
  method: z.enum(parentalMethods),
  verifiedAt: instant,
  verifiedBy: z.string().min(1).max(200),
  /** Where the verification's artefact is kept (a token id, a document reference). */
  reference: z.string().max(500).optional(),
});
export type ParentalConsent = z.infer<typeof parentalConsentSchema>;

const evidenceSchema = z
  .record(z.string(), z.unknown())
  .refine((v) => JSON.stringify(v).length <= 8192, "evidence must be at most 8 KiB of JSON");

/** One consent decision as apps report it; a withdrawal has the same shape with state 'withdrawn'. */
export const consentRecordSchema = z
  .strictObject({
    subject: subjectId,
    purpose: purposeKey,
    state: z.enum(consentStates),
    /** Required to give consent; a withdrawal defaults to the notice of the consent it withdraws. */
    notice: noticeSchema.optional(),
    channel: z.enum(consentChannels),
    /** Required to give consent; a withdrawal defaults to that of the consent it withdraws. */
    jurisdiction: z.enum(jurisdictions).optional(),
    /** A reference to what proves the decision (form submission id, signed paper scan, CMP receipt). */
    evidence: evidenceSchema.default({}),
    expiresAt: instant.optional(),
    /** Whether the subject is a child; sticks to the subject until set to false. */
    child: z.boolean().optional(),
    parental: parentalConsentSchema.optional(),
    /** The app's own opaque reference, returned in proof exports; never an email or a name. */
    subjectRef: z
      .string()
      .max(128)
      .regex(/^[A-Za-z0-9._:-]+$/, "expected an opaque reference of [A-Za-z0-9._:-], not an email or a name")
      .optional(),
  })
  .refine((r) => r.state === "withdrawn" || r.notice !== undefined, {
    message: "consent needs the notice shown: { id, hash } or { id, text }",
    path: ["notice"],
  })
  .refine((r) => r.state === "withdrawn" || r.jurisdiction !== undefined, {
    message: "consent needs its jurisdiction: gdpr or dpdp",
    path: ["jurisdiction"],
  });
export type ConsentRecordInput = z.input<typeof consentRecordSchema>;
export type ConsentRecord = z.output<typeof consentRecordSchema>;

export const withdrawAllSchema = z.strictObject({
  subject: subjectId,
  channel: z.enum(consentChannels),
  evidence: evidenceSchema.default({}),
});

// DPDP consent managers keep records for at least seven years (DPDP Rules 2025, First Schedule, as
// secondary summaries report it); GDPR only asks that consent be demonstrable, so the longer wins.
export const MIN_CONSENT_RETENTION = "P7Y";

/** Purposes never allowed for a child's data (DPDP s.9(3)); prefixes match, as fideslang's data uses. */
export const defaultChildRefusedPurposes = [
  "tracking",
  "behavioural_monitoring",
  "marketing.advertising",
  "advertising",
  "personalize.profiling",
  "targeted_advertising",
];

/** rampart.yaml's `privacy.consent:` section. */
export const consentConfigSchema = z.strictObject({
  /** How long ledger entries are kept after a subject's last decision; at least P7Y. */
  retention: z
    .string()
    .default(MIN_CONSENT_RETENTION)
    .refine(isIsoDuration, "expected an ISO 8601 duration such as P7Y")
    .refine((d) => {
      const p = parseIsoDuration(d);
      return !p || p.years * 12 + p.months >= 84;
    }, "consent records are kept at least 7 years (P7Y)"),
  /** Purposes refused for children entirely: tracking, behavioural monitoring, targeted advertising. */
  childRefusedPurposes: z.array(purposeKey).default(defaultChildRefusedPurposes),
});
export type ConsentConfig = z.output<typeof consentConfigSchema>;
