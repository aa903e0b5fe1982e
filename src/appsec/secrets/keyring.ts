// Versioned key-encryption keys (KEKs), stored wrapped by the root key and kept unwrapped in memory,
// as KeyObjects (their key schedule is set up once, several times cheaper per use than raw bytes),
// plus a root-wrapped seed from which the audit-hash and backup keys are derived once (HKDF).
import { createHmac, createSecretKey, hkdfSync, type KeyObject, randomBytes } from "node:crypto";
import { sql } from "kysely";
import { Unavailable } from "../../platform/errors.ts";
import type { Store } from "../../platform/store/index.ts";
import { asBuffer } from "./keys/local.ts";
import type { RootKeyProvider } from "./keys/types.ts";
import type { SecretsTables } from "./tables.ts";

export const SEED_NAME = "audit-seed";
const SEED = SEED_NAME;
const seedContext = "rampart:secrets:seed";
export const kekContext = (version: number) => `rampart:kek:${version}`;

export interface Keyring {
  /** The KEK new data keys are wrapped with. */
  readonly currentVersion: number;
  /** When the current KEK was made (schedulers rotate after `kekRotationDays`). */
  readonly currentCreatedAt: Date;
  /** A KEK by version, from memory or (made by another replica) the database. */
  kek(version: number): Promise<KeyObject>;
  /** Cached KEK or undefined: the read path avoids an await when it can. */
  cached(version: number): KeyObject | undefined;
  /** Adds a new KEK and makes it current. */
  rotate(now: Date): Promise<number>;
  /** Keyed HMAC of a value for audit events (Vault's audit-hash). */
  auditHash(value: string): string;
  /** HMAC under the backup key. */
  backupMac(data: string): string;
  /** Re-reads everything from the database (after a restore). */
  reload(): Promise<void>;
  /** Makes the newest KEK in the database current (another replica may have rotated). */
  adoptNewest(): Promise<number>;
}

const derive = (seed: Buffer, info: string) =>
  createSecretKey(Buffer.from(hkdfSync("sha256", seed, Buffer.alloc(0), info, 32)));

/** Derives the backup key from a seed (restore checks a backup's own seed). */
export function backupMacWith(seed: Buffer, data: string): string {
  return createHmac("sha256", derive(seed, "rampart:secrets:backup")).update(data).digest("base64url");
}

/** Unwraps a stored seed. */
export const unwrapSeed = (root: RootKeyProvider, wrapped: Buffer) => root.unwrap(wrapped, seedContext);

/** Loads (or on a fresh store, creates) the seed and KEK 1, and unwraps every KEK. */
export async function openKeyring(store: Store, root: RootKeyProvider, now: Date): Promise<Keyring> {
  const db = store.db.withTables<SecretsTables>();
  const keks = new Map<number, KeyObject>();
  let current = 0;
  let currentCreatedAt = now;
  let auditKey: KeyObject | undefined;
  let backupKey: KeyObject | undefined;

  const unwrapKek = async (wrapped: Uint8Array, version: number) => {
    const raw = await root.unwrap(asBuffer(wrapped), kekContext(version));
    const kek = createSecretKey(raw);
    raw.fill(0);
    return kek;
  };

  const load = async () => {
    // Concurrent first starts: the first insert wins, everyone reads the winner's row.
    await db
      .insertInto("secret_root_state")
      .values({
        name: SEED,
        value: await root.wrap(randomBytes(32), seedContext),
        threshold: null,
        shares: null,
        created_at: now,
      })
      .onConflict((oc) => oc.column("name").doNothing())
      .execute();
    await db
      .insertInto("secret_keks")
      .values({ version: 1, wrapped: await root.wrap(randomBytes(32), kekContext(1)), created_at: now })
      .onConflict((oc) => oc.column("version").doNothing())
      .execute();
    const seedRow = await db
      .selectFrom("secret_root_state")
      .select("value")
      .where("name", "=", SEED)
      .executeTakeFirstOrThrow();
    const seed = await root.unwrap(asBuffer(seedRow.value), seedContext);
    auditKey = derive(seed, "rampart:secrets:audit-hash");
    backupKey = derive(seed, "rampart:secrets:backup");
    seed.fill(0);
    keks.clear();
    const rows = await db.selectFrom("secret_keks").selectAll().orderBy("version").execute();
    for (const r of rows) keks.set(r.version, await unwrapKek(r.wrapped, r.version));
    current = rows.at(-1)?.version ?? 1;
    currentCreatedAt = rows.at(-1)?.created_at ?? now;
  };
  await load();

  const ring: Keyring = {
    get currentVersion() {
      return current;
    },
    get currentCreatedAt() {
      return currentCreatedAt;
    },
    cached: (v) => keks.get(v),
    async kek(version) {
      const hit = keks.get(version);
      if (hit) return hit;
      const row = await db
        .selectFrom("secret_keks")
        .selectAll()
        .where("version", "=", version)
        .executeTakeFirst();
      if (!row) throw new Unavailable(`key-encryption key ${version} is missing from the keyring`);
      const kek = await unwrapKek(row.wrapped, version);
      keks.set(version, kek);
      if (version > current) {
        current = version;
        currentCreatedAt = row.created_at;
      }
      return kek;
    },
    async adoptNewest() {
      const { max } = await db
        .selectFrom("secret_keks")
        .select(sql<number>`coalesce(max(version), 0)::int`.as("max"))
        .executeTakeFirstOrThrow();
      if (max > current) await ring.kek(max); // loading a newer KEK makes it current
      return current;
    },
    async rotate(at) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const { max } = await db
          .selectFrom("secret_keks")
          .select(sql<number>`coalesce(max(version), 0)::int`.as("max"))
          .executeTakeFirstOrThrow();
        const version = max + 1;
        const raw = randomBytes(32);
        const wrapped = await root.wrap(raw, kekContext(version));
        const kek = createSecretKey(raw);
        raw.fill(0);
        const inserted = await db
          .insertInto("secret_keks")
          .values({ version, wrapped, created_at: at })
          .onConflict((oc) => oc.column("version").doNothing())
          .returning("version")
          .executeTakeFirst();
        if (inserted) {
          keks.set(version, kek);
          current = version;
          currentCreatedAt = at;
          return version;
        }
      }
      throw new Unavailable("could not add a key-encryption key: other rotations kept winning");
    },
    auditHash: (value) =>
      `hmac-sha256:${createHmac("sha256", auditKey as KeyObject)
        .update(value, "utf8")
        .digest("base64url")}`,
    backupMac: (data) =>
      createHmac("sha256", backupKey as KeyObject)
        .update(data)
        .digest("base64url"),
    reload: load,
  };
  return ring;
}
