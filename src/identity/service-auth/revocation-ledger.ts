// The control plane's durable copy of subject revocations. Hot state holds the list every gateway
// checks; this table outlives it, so a Redis that restarts empty gets the revocations back within
// seconds instead of reviving revoked credentials.
import { type Kysely, sql } from "kysely";
import type { Migration } from "kysely/migration";
import type { Store } from "../../platform/store/index.ts";
import type { RevocationEntry } from "./revocations.ts";

export type RevocationTables = {
  identity_revocations: { subject: string; revoked_after: Date; expires_at: Date };
};

export const revocationMigrations: Record<string, Migration> = {
  "2026-11-28-01-identity-revocations": {
    async up(db: Kysely<unknown>) {
      await sql`create table identity_revocations (
          subject text primary key,
          revoked_after timestamptz not null,
          expires_at timestamptz not null
        )`.execute(db);
    },
  },
};

export interface RevocationLedger {
  /** Keeps a revocation; a later one for the same subject replaces it. */
  record(entry: RevocationEntry): Promise<void>;
  /** Revocations not yet expired at `now`. */
  live(now: Date): Promise<RevocationEntry[]>;
}

export function createRevocationLedger(store: Store): RevocationLedger {
  const db = store.db.withTables<RevocationTables>();
  return {
    async record(e) {
      const row = {
        subject: e.subject,
        revoked_after: new Date(e.revokedAfter),
        expires_at: new Date(e.expiresAt),
      };
      await db
        .insertInto("identity_revocations")
        .values(row)
        .onConflict((oc) =>
          oc.column("subject").doUpdateSet({ revoked_after: row.revoked_after, expires_at: row.expires_at }),
        )
        .execute();
    },
    async live(now) {
      const rows = await db
        .selectFrom("identity_revocations")
        .selectAll()
        .where("expires_at", ">", now)
        .execute();
      return rows.map((r) => ({
        subject: r.subject,
        revokedAfter: new Date(r.revoked_after).getTime(),
        expiresAt: new Date(r.expires_at).getTime(),
      }));
    },
  };
}
