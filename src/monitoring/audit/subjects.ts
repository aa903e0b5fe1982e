// People never appear in audit entries: a user is replaced by a random subject key, and the
// key→identifier mapping lives in its own table. Erasing a person deletes the mapping; the
// entries stay, still verify, and no longer point at anyone.
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { AuditTables } from "./schema.ts";

/** Reference kinds whose ids identify a natural person. */
export const personalKinds: ReadonlySet<string> = new Set(["user", "person", "subject"]);

export interface SubjectDirectory {
  /** Subject keys for identifiers, creating the missing ones inside `db` (a transaction). */
  keysFor(db: Kysely<AuditTables>, identifiers: readonly string[], now: Date): Promise<Map<string, string>>;
  /** The subject key of an identifier if one exists (for queries by person). */
  lookup(db: Kysely<AuditTables>, identifier: string): Promise<string | undefined>;
  /** Deletes the mapping; returns whether there was one. */
  erase(db: Kysely<AuditTables>, identifier: string): Promise<boolean>;
  /** Forgets cached mappings (after a rolled-back transaction). */
  reset(): void;
}

export function createSubjectDirectory(maxCached = 50_000): SubjectDirectory {
  const cache = new Map<string, string>();
  const remember = (id: string, key: string) => {
    if (cache.size >= maxCached) cache.clear();
    cache.set(id, key);
  };
  return {
    async keysFor(db, identifiers, now) {
      const out = new Map<string, string>();
      const missing = new Set<string>();
      for (const id of identifiers) {
        const k = cache.get(id);
        if (k) out.set(id, k);
        else missing.add(id);
      }
      if (missing.size === 0) return out;
      const ids = [...missing];
      const found = await db
        .selectFrom("audit_subjects")
        .select(["identifier", "subject_key"])
        .where("identifier", "in", ids)
        .execute();
      for (const r of found) {
        out.set(r.identifier, r.subject_key);
        missing.delete(r.identifier);
      }
      if (missing.size > 0) {
        const rows = [...missing].map((identifier) => ({
          subject_key: `sk_${randomBytes(12).toString("hex")}`,
          identifier,
          created_at: now,
        }));
        await db.insertInto("audit_subjects").values(rows).execute();
        for (const r of rows) out.set(r.identifier, r.subject_key);
      }
      for (const [id, k] of out) remember(id, k);
      return out;
    },
    async lookup(db, identifier) {
      const cached = cache.get(identifier);
      if (cached) return cached;
      const row = await db
        .selectFrom("audit_subjects")
        .select("subject_key")
        .where("identifier", "=", identifier)
        .executeTakeFirst();
      return row?.subject_key;
    },
    async erase(db, identifier) {
      cache.delete(identifier);
      const r = await db.deleteFrom("audit_subjects").where("identifier", "=", identifier).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    reset: () => cache.clear(),
  };
}
