// People never appear in audit entries: a user is replaced by a random subject key, and the
// key→identifier mapping lives in its own table. Erasing a person deletes the mapping; the
// entries stay, still verify, and no longer point at anyone.
import { randomBytes, type KeyObject } from "node:crypto";
import { type Kysely, sql } from "kysely";
import { LEGACY_LENGTH, newDataKey, unwrapDataKey, wrapDataKey } from "./data-keys.ts";
import type { AuditTables } from "./schema.ts";

/** Reference kinds whose ids identify a natural person. */
export const personalKinds: ReadonlySet<string> = new Set(["user", "person", "subject"]);

export interface SubjectDirectory {
  /** Subject keys for identifiers, creating the missing ones inside `db` (a transaction). */
  keysFor(db: Kysely<AuditTables>, identifiers: readonly string[], now: Date): Promise<Map<string, string>>;
  /** The subject key of an identifier if one exists (for queries by person). */
  lookup(db: Kysely<AuditTables>, identifier: string): Promise<string | undefined>;
  /**
   * Unwrapped data keys of subject keys, giving one to a subject mapped before keys existed. A
   * subject key without a row (its person was erased meanwhile) is absent from the result; one
   * whose stored key does not open under this key file maps to undefined.
   */
  dataKeysFor(
    db: Kysely<AuditTables>,
    subjectKeys: readonly string[],
  ): Promise<Map<string, Uint8Array | undefined>>;
  /** Wraps data keys stored unwrapped by older versions; returns how many. */
  wrapLegacyKeys(db: Kysely<AuditTables>): Promise<number>;
  /** Deletes the mapping and the person's data key; returns whether there was one. */
  erase(db: Kysely<AuditTables>, identifier: string): Promise<boolean>;
  /** Forgets cached mappings (after a rolled-back transaction). */
  reset(): void;
}

export function createSubjectDirectory(wrapKey: KeyObject, maxCached = 50_000): SubjectDirectory {
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
        const rows = [...missing].map((identifier) => {
          const subject_key = `sk_${randomBytes(12).toString("hex")}`;
          return {
            subject_key,
            identifier,
            created_at: now,
            data_key: newDataKey(wrapKey, subject_key).stored,
          };
        });
        await db.insertInto("audit_subjects").values(rows).execute();
        for (const r of rows) out.set(r.identifier, r.subject_key);
      }
      for (const [id, k] of out) remember(id, k);
      return out;
    },
    async dataKeysFor(db, subjectKeys) {
      let stored = await readDataKeys(db, subjectKeys);
      const keyless = subjectKeys.filter((k) => stored.get(k) === null);
      if (keyless.length > 0) {
        for (const k of keyless)
          await db
            .updateTable("audit_subjects")
            .set({ data_key: newDataKey(wrapKey, k).stored })
            .where("subject_key", "=", k)
            .where("data_key", "is", null)
            .execute();
        stored = await readDataKeys(db, subjectKeys);
      }
      return openStored(wrapKey, stored);
    },
    async wrapLegacyKeys(db) {
      const legacy = await db
        .selectFrom("audit_subjects")
        .select(["subject_key", "data_key"])
        .where(sql<number>`octet_length(data_key)`, "=", LEGACY_LENGTH)
        .execute();
      let wrapped = 0;
      for (const r of legacy) {
        const raw = r.data_key as Uint8Array;
        // Only if still the same unwrapped key: another server may have wrapped it meanwhile.
        const res = await db
          .updateTable("audit_subjects")
          .set({ data_key: wrapDataKey(wrapKey, r.subject_key, raw) })
          .where("subject_key", "=", r.subject_key)
          .where("data_key", "=", raw)
          .executeTakeFirst();
        wrapped += Number(res.numUpdatedRows);
      }
      return wrapped;
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

/**
 * Unwrapped data keys by subject key: erased subjects (and those never given a key) are absent,
 * keys that do not open under `wrapKey` map to undefined.
 */
export async function openDataKeys(
  db: Kysely<AuditTables>,
  wrapKey: KeyObject,
  subjectKeys: readonly string[],
): Promise<Map<string, Uint8Array | undefined>> {
  return openStored(wrapKey, await readDataKeys(db, subjectKeys));
}

function openStored(
  wrapKey: KeyObject,
  stored: Map<string, Uint8Array | null>,
): Map<string, Uint8Array | undefined> {
  const out = new Map<string, Uint8Array | undefined>();
  for (const [k, v] of stored) if (v) out.set(k, unwrapDataKey(wrapKey, k, v));
  return out;
}

/** Stored (wrapped) data keys by subject key (null: mapped before keys existed); erased subjects are absent. */
async function readDataKeys(
  db: Kysely<AuditTables>,
  subjectKeys: readonly string[],
): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  if (subjectKeys.length === 0) return out;
  const rows = await db
    .selectFrom("audit_subjects")
    .select(["subject_key", "data_key"])
    .where("subject_key", "in", [...new Set(subjectKeys)])
    .execute();
  for (const r of rows) out.set(r.subject_key, r.data_key);
  return out;
}
