// The processor (vendor) register and the DPIA register: tables and the input shapes the service,
// API, CLI and YAML import share.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { purposeKey } from "../consent/index.ts";
import { isIsoDuration } from "../duration.ts";

export type RegisterTables = {
  privacy_processors: {
    key: string;
    /** The processor as given (JSON of ProcessorInput). */
    data: string;
    status: string;
    next_review_at: Date;
    created_at: Date;
    updated_at: Date;
  };
  privacy_dpias: {
    key: string;
    /** The DPIA as given (JSON of DpiaInput). */
    data: string;
    state: string;
    approved_by: string | null;
    approved_at: Date | null;
    review_due: Date | null;
    created_at: Date;
    updated_at: Date;
  };
};

export const registerMigrations: Record<string, Migration> = {
  "2026-11-26-21-privacy-register": {
    async up(db: Kysely<unknown>) {
      for (const statement of [
        `create table privacy_processors (
            key text primary key,
            data text not null,
            status text not null,
            next_review_at timestamptz not null,
            created_at timestamptz not null,
            updated_at timestamptz not null
          )`,
        `create table privacy_dpias (
            key text primary key,
            data text not null,
            state text not null check (state in ('draft', 'approved')),
            approved_by text,
            approved_at timestamptz,
            review_due timestamptz,
            created_at timestamptz not null,
            updated_at timestamptz not null
          )`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
};

const RESERVED = new Set(["findings", "import"]);
/** Register keys: lower-case words, safe in URLs. */
export const registerKey = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_.-]{0,63}$/,
    "expected a key of lower-case letters, digits, '_', '.', '-' (at most 64)",
  )
  .refine((k) => !RESERVED.has(k), "this key is reserved for a route");

const text = (max: number) => z.string().trim().min(1).max(max);
const instant = z.iso.datetime({ offset: true }).or(z.iso.date());
/** Region codes as systems use them: ISO 3166 countries ("IN", "DE"), cloud regions ("eu-west-1"). */
const region = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, "expected a region such as IN, EU or eu-west-1");

export const transferMechanisms = [
  "adequacy",
  "sccs",
  "bcrs",
  "explicit_consent",
  "contract_necessity",
  // DPDP s.16: transfers are allowed except to countries the government restricts.
  "dpdp_permitted",
  "other",
] as const;
export const processorStatuses = ["onboarding", "active", "suspended", "offboarded"] as const;
export type ProcessorStatus = (typeof processorStatuses)[number];

export const processorSchema = z.strictObject({
  key: registerKey,
  name: text(200),
  /** What they do for us: "transactional email", "payments". */
  service: text(500),
  /** Data categories shared with them (fideslang keys such as user.contact.email). */
  categories: z.array(text(200)).max(200).default([]),
  purposes: z.array(purposeKey).max(100).default([]),
  /** Where they store and process the data. */
  regions: z.array(region).min(1, "name at least one region where the processor handles data").max(100),
  /** How transfers outside the home regions are lawful. */
  transfer: z
    .strictObject({ mechanism: z.enum(transferMechanisms), reference: text(500).optional() })
    .optional(),
  /** The data processing agreement (GDPR Art. 28(3); DPDP s.8(2) "valid contract"). */
  dpa: z.strictObject({ signedAt: instant, reference: text(500) }).optional(),
  lastAssessedAt: instant.optional(),
  /** Defaults to a review interval after the last assessment (else after the DPA, else after creation). */
  nextReviewAt: instant.optional(),
  status: z.enum(processorStatuses).default("active"),
  owner: text(200).optional(),
  notes: z.string().max(4000).optional(),
});
export type ProcessorInput = z.input<typeof processorSchema>;
export type ProcessorData = z.output<typeof processorSchema>;

export const riskLevels = ["low", "medium", "high"] as const;
export const dpiaOutcomes = [
  "proceed",
  "proceed_with_measures",
  "consult_authority",
  "do_not_proceed",
] as const;
export const dpiaStates = ["draft", "approved", "review_due"] as const;
export type DpiaState = (typeof dpiaStates)[number];

export const dpiaSchema = z.strictObject({
  key: registerKey,
  title: text(200),
  /** The data map system assessed. */
  system: text(128),
  purposes: z.array(purposeKey).max(100).default([]),
  /** Why a DPIA is needed: GDPR Art. 35(3) criteria, large-scale sensitive data, SDF status. */
  highRiskReasons: z.array(text(1000)).min(1, "give at least one reason the processing is high-risk").max(50),
  risks: z
    .array(
      z.strictObject({
        risk: text(2000),
        likelihood: z.enum(riskLevels),
        severity: z.enum(riskLevels),
        measures: z.array(text(2000)).max(50).default([]),
        residual: z.enum(riskLevels).optional(),
      }),
    )
    .max(200)
    .default([]),
  outcome: z.enum(dpiaOutcomes).optional(),
  /** A Significant Data Fiduciary's periodic DPIA and audit (DPDP s.10(2)(c)): yearly. */
  significantDataFiduciary: z.boolean().default(false),
  /** When to review it again; defaults to a review interval after approval. */
  reviewDue: instant.optional(),
  owner: text(200).optional(),
});
export type DpiaInput = z.input<typeof dpiaSchema>;
export type DpiaData = z.output<typeof dpiaSchema>;

export const approveDpiaSchema = z.strictObject({
  /** Defaults to the caller. */
  approvedBy: text(200).optional(),
  outcome: z.enum(dpiaOutcomes).optional(),
  reviewDue: instant.optional(),
});
export type DpiaApproval = z.infer<typeof approveDpiaSchema>;

/** A YAML file of processors and/or DPIAs for `rampart privacy processors|dpias import`. */
export const registerFileSchema = z.strictObject({
  processors: z.array(processorSchema).default([]),
  dpias: z.array(dpiaSchema).default([]),
});

const duration = z.string().refine(isIsoDuration, "expected an ISO 8601 duration such as P1Y");

/** rampart.yaml's `privacy.register:` section. */
export const registerConfigSchema = z.strictObject({
  /** Regions the data stays in at home; processors elsewhere need a transfer mechanism. Empty: no check. */
  homeRegions: z.array(region).default([]),
  /** Default time to a processor's next review and to a DPIA's review after approval (SDF: yearly). */
  reviewInterval: duration.default("P1Y"),
  /** A processor assessment older than this is a finding. */
  assessmentMaxAge: duration.default("P1Y"),
});
export type RegisterConfig = z.output<typeof registerConfigSchema>;
