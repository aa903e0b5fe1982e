// Retention tables and config. A person is never stored in clear here: notices hold a keyed hash
// of the identity value, and the contact address is read from the store when the notice is sent.
import type { Kysely } from "kysely";
import { sql } from "kysely";
import type { Migration } from "kysely/migration";
import { z } from "zod";

export const noticeStates = ["pending", "erased", "cancelled", "gone"] as const;
export type NoticeState = (typeof noticeStates)[number];

export type RetentionTables = {
  privacy_retention_notices: {
    id: string;
    policy: string;
    /** HMAC-SHA-256 of "identity type:value" under the retention key. */
    subject_hash: string;
    state: string;
    /** The trigger time the notice was about (start of the period that ran out). */
    activity_at: Date;
    noticed_at: Date;
    erase_after: Date;
    /** Whether a notice was mailed (false: no mailer or no address). */
    mailed: boolean;
    closed_at: Date | null;
    request_id: string | null;
  };
  /** Rows already erased for a period, so masked rows (which keep their timestamp) are not erased again. */
  privacy_retention_erased: {
    policy: string;
    row_id: string;
    activity_at: Date;
    request_id: string;
    erased_at: Date;
  };
};

export const retentionMigrations: Record<string, Migration> = {
  "2026-11-26-35-privacy-retention": {
    async up(db: Kysely<unknown>) {
      await sql`create table privacy_retention_notices (
          id text primary key,
          policy text not null,
          subject_hash text not null,
          state text not null,
          activity_at timestamptz not null,
          noticed_at timestamptz not null,
          erase_after timestamptz not null,
          mailed boolean not null,
          closed_at timestamptz,
          request_id text
        )`.execute(db);
      // One pending notice per subject and policy, whichever server runs retention.
      await sql`create unique index privacy_retention_pending on privacy_retention_notices (policy, subject_hash)
          where state = 'pending'`.execute(db);
      await sql`create table privacy_retention_erased (
          policy text not null,
          row_id text not null,
          activity_at timestamptz not null,
          request_id text not null,
          erased_at timestamptz not null,
          primary key (policy, row_id)
        )`.execute(db);
    },
  },
};

/** rampart.yaml's `privacy.retention:` section. */
export const retentionConfigSchema = z.strictObject({
  /** Whether the server runs retention on its own every `intervalMinutes`. */
  enabled: z.boolean().default(true),
  intervalMinutes: z
    .number()
    .int()
    .min(1)
    .max(7 * 24 * 60)
    .default(60),
  /** Rows read per findBefore call. */
  batchSize: z.number().int().min(1).max(10_000).default(500),
  /** Rows looked at per policy per run; the rest wait for the next run. */
  maxPerRun: z.number().int().min(1).max(1_000_000).default(10_000),
  /** Inactivity notices go by `privacy.smtp`; without it they are recorded but not mailed. */
  mail: z
    .strictObject({
      subject: z.string().trim().min(1).max(200).default("Your account is about to be deleted"),
    })
    .prefault({}),
  /** Who the notice says is writing. */
  organisation: z.string().trim().min(1).max(200).optional(),
});
export type RetentionConfig = z.output<typeof retentionConfigSchema>;
