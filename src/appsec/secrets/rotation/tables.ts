// Rotation's own durable state: the previous versions whose credentials must stop working once
// their grace period ends. Rows name a secret path and version, never a credential.
import type { Kysely } from "kysely";
import type { Migration } from "kysely/migration";

export type RotationTables = {
  secret_rotation_retirements: {
    path: string;
    /** The version whose credential is retired (read back from the store when it is due). */
    version: number;
    kind: string;
    retire_at: Date;
    created_at: Date;
    attempts: number;
    last_error: string | null;
  };
  /** Who is rotating a path now: one server at a time, even with several control-plane replicas. */
  secret_rotation_leases: { path: string; holder: string; until: Date };
};

export const rotationMigrations: Record<string, Migration> = {
  "2026-11-23-03-secret-rotation": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("secret_rotation_retirements")
        .addColumn("path", "text", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("retire_at", "timestamptz", (c) => c.notNull())
        .addColumn("created_at", "timestamptz", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("last_error", "text")
        .addPrimaryKeyConstraint("secret_rotation_retirements_pk", ["path", "version"])
        .execute();
      await db.schema
        .createIndex("secret_rotation_retirements_due")
        .on("secret_rotation_retirements")
        .column("retire_at")
        .execute();
      await db.schema
        .createTable("secret_rotation_leases")
        .addColumn("path", "text", (c) => c.primaryKey())
        .addColumn("holder", "text", (c) => c.notNull())
        .addColumn("until", "timestamptz", (c) => c.notNull())
        .execute();
    },
  },
};
