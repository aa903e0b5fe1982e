// Tables of the audit log and the event spine's batch register.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

/** bytea columns are Uint8Array: PGlite returns them so (pg returns Buffer, a subclass). */
export type AuditTables = {
  audit_logs: {
    log_id: string;
    retention: string;
    period_start: Date;
    period_end: Date;
    opened_at: Date;
    closed_at: Date | null;
    expired_at: Date | null;
  };
  audit_entries: {
    log_id: string;
    seq: number;
    id: string;
    time: Date;
    type: string;
    actor: string;
    target: string | null;
    body: string;
    leaf_hash: Uint8Array;
    mac: Uint8Array;
  };
  audit_checkpoints: {
    log_id: string;
    tree_size: number;
    root_hash: Uint8Array;
    signed_at: Date;
    note: string;
  };
  audit_subjects: {
    subject_key: string;
    identifier: string;
    created_at: Date;
    /**
     * The key sealing this person's details in entries, wrapped under the audit key file (60 bytes,
     * see data-keys.ts; 32 bytes: unwrapped by an older version, wrapped at the next start).
     * Deleted with the row (crypto-shredding).
     */
    data_key: Uint8Array | null;
  };
  event_batches: {
    batch_id: string;
    source: string | null;
    received_at: Date;
    event_count: number;
  };
};

export const auditMigrations: Record<string, Migration> = {
  "2026-11-22-01-audit-log": {
    async up(db: Kysely<unknown>) {
      // Append-only: the application can only insert. Expiry of a whole period sets
      // rampart.audit_expiry for its own transaction; anything else is refused.
      // One statement per query: PGlite, like the extended protocol, takes one at a time.
      for (const statement of [
        `create table audit_logs (
            log_id text primary key,
            retention text not null,
            period_start timestamptz not null,
            period_end timestamptz not null,
            opened_at timestamptz not null,
            closed_at timestamptz,
            expired_at timestamptz
          )`,
        `create table audit_entries (
            log_id text not null,
            seq bigint not null,
            id text not null,
            time timestamptz not null,
            type text not null,
            actor text not null,
            target text,
            body text not null,
            leaf_hash bytea not null,
            mac bytea not null,
            primary key (log_id, seq)
          )`,
        `create index audit_entries_id on audit_entries (id)`,
        `create index audit_entries_time on audit_entries (time)`,
        `create index audit_entries_type_time on audit_entries (type, time)`,
        `create index audit_entries_actor_time on audit_entries (actor, time)`,
        `create index audit_entries_target_time on audit_entries (target, time)`,
        `create table audit_checkpoints (
            log_id text not null references audit_logs (log_id),
            tree_size bigint not null,
            root_hash bytea not null,
            signed_at timestamptz not null,
            note text not null,
            primary key (log_id, tree_size)
          )`,
        `create table audit_subjects (
            subject_key text primary key,
            identifier text not null unique,
            created_at timestamptz not null
          )`,
        `create table event_batches (
            batch_id text primary key,
            source text,
            received_at timestamptz not null,
            event_count integer not null
          )`,
        `create index event_batches_received on event_batches (received_at)`,
        `create function audit_entries_append_only() returns trigger language plpgsql as $$
          begin
            if tg_op = 'DELETE' and current_setting('rampart.audit_expiry', true) = 'on' then
              return old;
            end if;
            raise exception 'audit entries are append-only (% refused)', tg_op;
          end $$`,
        `create trigger audit_entries_append_only before update or delete on audit_entries
            for each row execute function audit_entries_append_only()`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
  "2026-11-26-40-audit-subject-data-keys": {
    async up(db: Kysely<unknown>) {
      // Null for people mapped before this column existed: they get a key when first needed.
      await sql.raw("alter table audit_subjects add column data_key bytea").execute(db);
    },
  },
  "2026-11-26-41-audit-subject-data-key-wrap": {
    async up(db: Kysely<unknown>) {
      // A migration cannot see the key file, so it cannot wrap: the length tells the formats apart
      // (32 bytes unwrapped, 60 wrapped) and the log wraps unwrapped keys when it next starts.
      await sql
        .raw(
          `alter table audit_subjects add constraint audit_subjects_data_key_format
            check (data_key is null or octet_length(data_key) in (32, 60))`,
        )
        .execute(db);
    },
  },
};
