// Breach register tables and the input shapes the service, API, CLI and config share.
import { type Generated, type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";
import { breachRegimes, notificationRecipients, reminderOffsetPattern } from "./clocks.ts";

export const breachStatuses = [
  "detected",
  "assessed",
  "notified_authority",
  "notified_subjects",
  "closed",
  "not_reportable",
] as const;
export type BreachStatus = (typeof breachStatuses)[number];

export type BreachTables = {
  privacy_breaches: {
    id: string;
    title: string;
    description: string;
    status: string;
    status_reason: string | null;
    aware_at: Date;
    detected_at: Date;
    incident_id: string | null;
    /** JSON arrays of strings. */
    regimes: string;
    data_categories: string;
    subject_categories: string;
    regions: string;
    systems: string;
    approx_subjects: number | null;
    approx_records: number | null;
    incident_type: string | null;
    consequences: string | null;
    measures: string | null;
    created_at: Date;
    updated_at: Date;
    created_by: string;
  };
  privacy_breach_clocks: {
    breach_id: string;
    clock: string;
    regime: string;
    hours: number;
    due_at: Date;
    met_at: Date | null;
  };
  privacy_breach_notifications: {
    id: Generated<number>;
    breach_id: string;
    regime: string;
    recipient: string;
    sent_at: Date;
    reference: string | null;
    recorded_at: Date;
    recorded_by: string;
  };
  /** One row per reminder sent: the primary key makes each reminder fire once, whichever server ticks. */
  privacy_breach_reminders: {
    breach_id: string;
    clock: string;
    kind: string;
    sent_at: Date;
  };
  privacy_breach_sequences: { year: number; last: number };
};

export const breachMigrations: Record<string, Migration> = {
  "2026-11-26-30-privacy-breaches": {
    async up(db: Kysely<unknown>) {
      await sql`create table privacy_breaches (
          id text primary key,
          title text not null,
          description text not null,
          status text not null,
          status_reason text,
          aware_at timestamptz not null,
          detected_at timestamptz not null,
          incident_id text,
          regimes text not null,
          data_categories text not null default '[]',
          subject_categories text not null default '[]',
          regions text not null default '[]',
          systems text not null default '[]',
          approx_subjects bigint,
          approx_records bigint,
          incident_type text,
          consequences text,
          measures text,
          created_at timestamptz not null,
          updated_at timestamptz not null,
          created_by text not null
        )`.execute(db);
      // openFromIncident is idempotent per incident: one breach record per incident.
      await sql`create unique index privacy_breaches_incident on privacy_breaches (incident_id)
          where incident_id is not null`.execute(db);
      await sql`create index privacy_breaches_aware on privacy_breaches (aware_at)`.execute(db);
      await sql`create table privacy_breach_clocks (
          breach_id text not null references privacy_breaches (id),
          clock text not null,
          regime text not null,
          hours double precision not null,
          due_at timestamptz not null,
          met_at timestamptz,
          primary key (breach_id, clock)
        )`.execute(db);
      await sql`create index privacy_breach_clocks_open on privacy_breach_clocks (due_at)
          where met_at is null`.execute(db);
      await sql`create table privacy_breach_notifications (
          id bigserial primary key,
          breach_id text not null references privacy_breaches (id),
          regime text not null,
          recipient text not null,
          sent_at timestamptz not null,
          reference text,
          recorded_at timestamptz not null,
          recorded_by text not null
        )`.execute(db);
      await sql`create index privacy_breach_notifications_breach on privacy_breach_notifications (breach_id, id)`.execute(
        db,
      );
      await sql`create table privacy_breach_reminders (
          breach_id text not null references privacy_breaches (id),
          clock text not null,
          kind text not null,
          sent_at timestamptz not null,
          primary key (breach_id, clock, kind)
        )`.execute(db);
      await sql`create table privacy_breach_sequences (year integer primary key, last integer not null)`.execute(
        db,
      );
    },
  },
};

const text = (max: number) => z.string().trim().min(1).max(max);
const list = (max = 50) => z.array(text(200)).max(max);
const count = z.number().int().min(0).max(10_000_000_000);
const instant = z.iso.datetime({ offset: true });

const recordFields = {
  title: text(200),
  description: text(10_000),
  detectedAt: instant.optional(),
  incidentId: text(64).optional(),
  regimes: z.array(z.enum(breachRegimes)).min(1).max(breachRegimes.length).optional(),
  /** Data categories affected, fideslang keys such as "user.contact.email" or plain words. */
  dataCategories: list().optional(),
  /** Kinds of people affected: "customer", "employee", "child". */
  subjectCategories: list().optional(),
  approxSubjects: count.optional(),
  approxRecords: count.optional(),
  regions: list().optional(),
  /** Systems affected (data map system keys or host names), for CERT-In's report. */
  systems: list().optional(),
  /** CERT-In's incident type, e.g. "data leak", "unauthorised access". */
  incidentType: text(200).optional(),
  consequences: text(10_000).optional(),
  measures: text(10_000).optional(),
};

export const openBreachSchema = z.strictObject({
  ...recordFields,
  /** When the organisation became aware; the clocks start here. Defaults to now. */
  awareAt: instant.optional(),
});
export type OpenBreach = z.infer<typeof openBreachSchema>;

/** Any field of the record, and a move to another status (not_reportable needs a reason). */
export const updateBreachSchema = z
  .strictObject({
    ...recordFields,
    title: recordFields.title.optional(),
    description: recordFields.description.optional(),
    awareAt: instant.optional(),
    status: z.enum(breachStatuses).optional(),
    reason: text(2000).optional(),
  })
  .refine((u) => u.status !== "not_reportable" || u.reason !== undefined, {
    message:
      "a breach found not reportable needs the reason (e.g. GDPR Art. 33(1): unlikely to result in a risk)",
    path: ["reason"],
  });
export type UpdateBreach = z.infer<typeof updateBreachSchema>;

export const notifySchema = z.strictObject({
  regime: z.enum(breachRegimes),
  recipient: z.enum(notificationRecipients),
  /** When it was sent; defaults to now. */
  sentAt: instant.optional(),
  /** The regulator's acknowledgement number, a ticket, a mail message id. */
  reference: text(500).optional(),
});
export type NotifyInput = z.infer<typeof notifySchema>;

const hours = z
  .number()
  .positive()
  .max(24 * 365);

/** rampart.yaml's `privacy.breaches:` section. */
export const breachConfigSchema = z.strictObject({
  /** Regimes a new breach falls under unless it says otherwise. */
  regimes: z.array(z.enum(breachRegimes)).min(1).default(["gdpr", "dpdp", "cert_in"]),
  /** Hours each clock allows from aware_at; the DPDP "without delay" ones are targets. */
  hours: z
    .strictObject({
      gdprAuthority: hours.default(72),
      dpdpBoardIntimation: hours.default(24),
      dpdpPrincipals: hours.default(24),
      dpdpBoardReport: hours.default(72),
      certIn: hours.default(6),
    })
    .prefault({}),
  /** Reminders before each deadline: "50%" of the window elapsed, or "1h" before it. */
  reminders: z
    .array(z.string().regex(reminderOffsetPattern, "expected 50% or a duration such as 1h, 30m, 2d"))
    .max(10)
    .default(["50%", "1h"]),
  /** Who the drafts name as controller and contact point (DPO / grievance officer). */
  controller: z
    .strictObject({
      name: text(200),
      contact: text(500),
      dpo: text(500).optional(),
    })
    .optional(),
});
export type BreachConfig = z.output<typeof breachConfigSchema>;
