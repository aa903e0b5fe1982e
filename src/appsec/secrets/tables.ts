// Durable state of the secrets store: wrapped keys, seal facts, paths with their metadata, and
// versions holding only ciphertext (never plaintext).
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

export type SecretsTables = {
  /** Facts about the root key and keyring: the Shamir split and its check value, the wrapped audit seed. */
  secret_root_state: {
    name: string;
    value: Buffer;
    threshold: number | null;
    shares: number | null;
    created_at: Date;
  };
  secret_keks: { version: number; wrapped: Buffer; created_at: Date };
  secret_paths: {
    path: string;
    current_version: number;
    created_at: Date;
    updated_at: Date;
    owner: string | null;
    rotation_period_days: number | null;
    expires_at: Date | null;
    max_versions: number | null;
    rotator: string | null;
    last_rotation_at: Date | null;
    last_rotation_ok: boolean | null;
    last_rotation_version: number | null;
    last_rotation_error: string | null;
  };
  secret_versions: {
    path: string;
    version: number;
    state: string;
    created_at: Date;
    created_by: string;
    ended_at: Date | null;
    kek_version: number;
    /** The data key, sealed under KEK `kek_version`; null once destroyed or revoked. */
    wrapped_dek: Buffer | null;
    /** The value map, sealed under the data key; null once destroyed or revoked. */
    ciphertext: Buffer | null;
    rolled_back_from: number | null;
  };
};

export const secretsMigrations: Record<string, Migration> = {
  "2026-11-23-01-secrets": {
    async up(db: Kysely<unknown>) {
      for (const statement of [
        `create table secret_root_state (
            name text primary key,
            value bytea not null,
            threshold integer,
            shares integer,
            created_at timestamptz not null
          )`,
        `create table secret_keks (
            version integer primary key check (version > 0),
            wrapped bytea not null,
            created_at timestamptz not null
          )`,
        `create table secret_paths (
            path text primary key,
            current_version integer not null default 0,
            created_at timestamptz not null,
            updated_at timestamptz not null,
            owner text,
            rotation_period_days double precision,
            expires_at timestamptz,
            max_versions integer,
            rotator text,
            last_rotation_at timestamptz,
            last_rotation_ok boolean,
            last_rotation_version integer,
            last_rotation_error text
          )`,
        `create table secret_versions (
            path text not null references secret_paths (path) on delete cascade,
            version integer not null check (version > 0),
            state text not null check (state in ('active', 'deleted', 'destroyed', 'revoked')),
            created_at timestamptz not null,
            created_by text not null,
            ended_at timestamptz,
            kek_version integer not null,
            wrapped_dek bytea,
            ciphertext bytea,
            rolled_back_from integer,
            primary key (path, version),
            check ((state in ('destroyed', 'revoked')) = (ciphertext is null))
          )`,
        // The re-wrap walks versions whose data key an older KEK wraps.
        `create index secret_versions_kek on secret_versions (kek_version) where ciphertext is not null`,
      ]) {
        await sql.raw(statement).execute(db);
      }
    },
  },
};
