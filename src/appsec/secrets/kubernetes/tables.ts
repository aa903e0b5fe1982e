// Machine tokens that let a namespace's External Secrets Operator read its secrets: only a
// SHA-256 of each token is kept; a rotated token keeps working until `expires_at`.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";

export type KubernetesTables = {
  secret_k8s_tokens: {
    id: string;
    namespace: string;
    /** SHA-256 of the token. */
    token_hash: Buffer;
    created_at: Date;
    /** Set when a newer token replaces this one: the end of its grace period. */
    expires_at: Date | null;
    revoked_at: Date | null;
  };
};

export const kubernetesMigrations: Record<string, Migration> = {
  "2026-11-23-10-secrets-k8s-tokens": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("secret_k8s_tokens")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("namespace", "text", (c) => c.notNull())
        .addColumn("token_hash", "bytea", (c) => c.notNull().unique())
        .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn("expires_at", "timestamptz")
        .addColumn("revoked_at", "timestamptz")
        .execute();
      await db.schema
        .createIndex("secret_k8s_tokens_namespace")
        .on("secret_k8s_tokens")
        .column("namespace")
        .execute();
    },
  },
};
