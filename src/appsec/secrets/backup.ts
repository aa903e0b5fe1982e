// Backup of the encrypted store as JSON lines (wrapped keys, metadata, ciphertexts; never plaintext),
// closed by a SHA-256 digest and an HMAC under a key only the same root key can recover. Restore
// checks both and opens every version before it commits anything.
import { createHash, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import type { Transaction } from "kysely";
import { z } from "zod";
import { Conflict, Invalid } from "../../platform/errors.ts";
import type { Store } from "../../platform/store/index.ts";
import { openVersion, SecretIntegrityError } from "./crypto.ts";
import { backupMacWith, kekContext, unwrapSeed } from "./keyring.ts";
import { asBuffer } from "./keys/local.ts";
import type { RootKeyProvider } from "./keys/types.ts";
import type { SecretsTables } from "./tables.ts";

export const BACKUP_FORMAT = "rampart-secrets-backup";
const BACKUP_VERSION = 1;
const WHERE = "backup";

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const date = z.iso.datetime({ offset: true });
const headerSchema = z.strictObject({
  format: z.literal(BACKUP_FORMAT),
  version: z.literal(BACKUP_VERSION),
  createdAt: date,
  provider: z.string(),
});
const recordSchema = z.discriminatedUnion("t", [
  z.strictObject({ t: z.literal("seed"), value: b64 }),
  z.strictObject({
    t: z.literal("kek"),
    version: z.number().int().positive(),
    wrapped: b64,
    createdAt: date,
  }),
  z.strictObject({
    t: z.literal("path"),
    path: z.string(),
    currentVersion: z.number().int().min(0),
    createdAt: date,
    updatedAt: date,
    owner: z.string().nullable(),
    rotationPeriodDays: z.number().nullable(),
    expiresAt: date.nullable(),
    maxVersions: z.number().int().nullable(),
    rotator: z.string().nullable(),
    lastRotationAt: date.nullable(),
    lastRotationOk: z.boolean().nullable(),
    lastRotationVersion: z.number().int().nullable(),
    lastRotationError: z.string().nullable(),
  }),
  z.strictObject({
    t: z.literal("version"),
    path: z.string(),
    version: z.number().int().positive(),
    state: z.enum(["active", "deleted", "destroyed", "revoked"]),
    createdAt: date,
    createdBy: z.string(),
    endedAt: date.nullable(),
    kekVersion: z.number().int().min(0),
    wrappedDek: b64.nullable(),
    ciphertext: b64.nullable(),
    rolledBackFrom: z.number().int().nullable(),
  }),
]);
const endSchema = z.strictObject({ t: z.literal("end"), sha256: z.string(), hmac: z.string() });

type BackupRecord = z.infer<typeof recordSchema>;

const enc = (b: Uint8Array | null) => (b === null ? null : asBuffer(b).toString("base64"));
const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const digest = (body: string) => createHash("sha256").update(body).digest("hex");

/** Writes the whole store as a backup document; `mac` is the keyring's backup HMAC. */
export async function writeBackup(
  store: Store,
  o: { provider: string; now: Date; seedName: string; mac: (sha256: string) => string },
): Promise<{ document: string; counts: { keks: number; secrets: number; versions: number } }> {
  const db = store.db.withTables<SecretsTables>();
  // One snapshot: a backup taken during writes is still consistent with itself.
  const { lines, counts } = await db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (tx) => {
      const seed = await tx
        .selectFrom("secret_root_state")
        .select("value")
        .where("name", "=", o.seedName)
        .executeTakeFirstOrThrow();
      const keks = await tx.selectFrom("secret_keks").selectAll().orderBy("version").execute();
      const paths = await tx
        .selectFrom("secret_paths")
        .selectAll()
        .where("current_version", ">", 0)
        .orderBy("path")
        .execute();
      const versions = await tx
        .selectFrom("secret_versions")
        .selectAll()
        .orderBy("path")
        .orderBy("version")
        .execute();
      const out: string[] = [
        JSON.stringify({
          format: BACKUP_FORMAT,
          version: BACKUP_VERSION,
          createdAt: o.now.toISOString(),
          provider: o.provider,
        }),
        JSON.stringify({ t: "seed", value: enc(seed.value) }),
      ];
      for (const k of keks) {
        out.push(
          JSON.stringify({
            t: "kek",
            version: k.version,
            wrapped: enc(k.wrapped),
            createdAt: iso(k.created_at),
          }),
        );
      }
      for (const p of paths) {
        out.push(
          JSON.stringify({
            t: "path",
            path: p.path,
            currentVersion: p.current_version,
            createdAt: iso(p.created_at),
            updatedAt: iso(p.updated_at),
            owner: p.owner,
            rotationPeriodDays: p.rotation_period_days,
            expiresAt: iso(p.expires_at),
            maxVersions: p.max_versions,
            rotator: p.rotator,
            lastRotationAt: iso(p.last_rotation_at),
            lastRotationOk: p.last_rotation_ok,
            lastRotationVersion: p.last_rotation_version,
            lastRotationError: p.last_rotation_error,
          }),
        );
      }
      for (const v of versions) {
        out.push(
          JSON.stringify({
            t: "version",
            path: v.path,
            version: v.version,
            state: v.state,
            createdAt: iso(v.created_at),
            createdBy: v.created_by,
            endedAt: iso(v.ended_at),
            kekVersion: v.kek_version,
            wrappedDek: enc(v.wrapped_dek),
            ciphertext: enc(v.ciphertext),
            rolledBackFrom: v.rolled_back_from,
          }),
        );
      }
      return { lines: out, counts: { keks: keks.length, secrets: paths.length, versions: versions.length } };
    });
  const body = `${lines.join("\n")}\n`;
  const sha256 = digest(body);
  return { document: `${body}${JSON.stringify({ t: "end", sha256, hmac: o.mac(sha256) })}\n`, counts };
}

const fail = (message: string): never => {
  throw new Invalid(message, WHERE);
};

/** Checks a backup (digest, HMAC under this root key, every version opens) and loads it into an empty store, all or nothing. */
export async function restoreBackup(
  store: Store,
  document: string,
  o: {
    root: RootKeyProvider;
    seedName: string;
    now: Date;
    /** Run inside the restore's transaction: tells every server that the whole store changed. */
    announce?: (tx: Transaction<SecretsTables>) => Promise<void>;
  },
): Promise<{ secrets: number; versions: number }> {
  if (typeof document !== "string" || document.length === 0) return fail("the backup is empty");
  const lines = document.split("\n");
  if (lines.at(-1) === "") lines.pop();
  if (lines.length < 3) return fail("the backup is truncated: it has no header, keys or end line");
  const endLine = lines.pop() as string;
  const parse = (line: string, n: number): unknown => {
    try {
      return JSON.parse(line);
    } catch {
      return fail(`line ${n} is not JSON`);
    }
  };
  const end = endSchema.safeParse(parse(endLine, lines.length + 1));
  if (!end.success)
    return fail("the backup is truncated: its last line is not the end record with digest and HMAC");
  const body = `${lines.join("\n")}\n`;
  const sha = digest(body);
  if (!safeEqual(sha, end.data.sha256))
    return fail("the backup's SHA-256 digest does not match its content: it was altered or truncated");
  const header = headerSchema.safeParse(parse(lines[0] as string, 1));
  if (!header.success) return fail(`line 1 is not a ${BACKUP_FORMAT} version ${BACKUP_VERSION} header`);
  const records: BackupRecord[] = lines.slice(1).map((line, i) => {
    const r = recordSchema.safeParse(parse(line, i + 2));
    if (!r.success) return fail(`line ${i + 2} is not a valid backup record`);
    return r.data;
  });
  const seedRecord = records.find((r) => r.t === "seed");
  if (!seedRecord) return fail("the backup has no keyring seed");

  let seed: Buffer;
  try {
    seed = await unwrapSeed(o.root, Buffer.from(seedRecord.value, "base64"));
  } catch {
    return fail(
      "the backup's keys do not unwrap under this store's root key: restore with the root key it was made under",
    );
  }
  const mac = backupMacWith(seed, sha);
  seed.fill(0);
  if (!safeEqual(mac, end.data.hmac))
    return fail("the backup's HMAC does not match: it was altered or made under another root key");

  const keks = new Map<number, KeyObject>();
  for (const r of records) {
    if (r.t !== "kek") continue;
    try {
      keks.set(
        r.version,
        createSecretKey(await o.root.unwrap(Buffer.from(r.wrapped, "base64"), kekContext(r.version))),
      );
    } catch {
      return fail(
        `key-encryption key ${r.version} in the backup does not unwrap under this store's root key`,
      );
    }
  }
  const paths = records.filter((r) => r.t === "path");
  const versions = records.filter((r) => r.t === "version");
  const known = new Set(paths.map((p) => p.path));
  // Every version must open before anything is written.
  for (const v of versions) {
    if (!known.has(v.path)) return fail(`version ${v.version} of ${v.path} has no path record`);
    if (v.ciphertext === null || v.wrappedDek === null) continue;
    const kek = keks.get(v.kekVersion);
    if (!kek)
      return fail(
        `version ${v.version} of ${v.path} needs key-encryption key ${v.kekVersion}, which the backup lacks`,
      );
    try {
      openVersion(kek, v.kekVersion, v.path, v.version, {
        wrappedDek: Buffer.from(v.wrappedDek, "base64"),
        ciphertext: Buffer.from(v.ciphertext, "base64"),
      });
    } catch (err) {
      if (err instanceof SecretIntegrityError)
        return fail(`version ${v.version} of ${v.path} does not decrypt`);
      throw err;
    }
  }

  const db = store.db.withTables<SecretsTables>();
  await db.transaction().execute(async (tx) => {
    const existing = await tx
      .selectFrom("secret_paths")
      .select("path")
      .where("current_version", ">", 0)
      .limit(1)
      .executeTakeFirst();
    if (existing) throw new Conflict(`restore needs an empty secrets store, but ${existing.path} exists`);
    await o.announce?.(tx);
    await tx.deleteFrom("secret_paths").execute();
    await tx.deleteFrom("secret_keks").execute();
    await tx.deleteFrom("secret_root_state").where("name", "=", o.seedName).execute();
    await tx
      .insertInto("secret_root_state")
      .values({
        name: o.seedName,
        value: Buffer.from(seedRecord.value, "base64"),
        threshold: null,
        shares: null,
        created_at: o.now,
      })
      .execute();
    for (const r of records) {
      if (r.t !== "kek") continue;
      await tx
        .insertInto("secret_keks")
        .values({
          version: r.version,
          wrapped: Buffer.from(r.wrapped, "base64"),
          created_at: new Date(r.createdAt),
        })
        .execute();
    }
    for (const chunk of chunks(paths, 500)) {
      await tx
        .insertInto("secret_paths")
        .values(
          chunk.map((p) => ({
            path: p.path,
            current_version: p.currentVersion,
            created_at: new Date(p.createdAt),
            updated_at: new Date(p.updatedAt),
            owner: p.owner,
            rotation_period_days: p.rotationPeriodDays,
            expires_at: p.expiresAt === null ? null : new Date(p.expiresAt),
            max_versions: p.maxVersions,
            rotator: p.rotator,
            last_rotation_at: p.lastRotationAt === null ? null : new Date(p.lastRotationAt),
            last_rotation_ok: p.lastRotationOk,
            last_rotation_version: p.lastRotationVersion,
            last_rotation_error: p.lastRotationError,
          })),
        )
        .execute();
    }
    for (const chunk of chunks(versions, 200)) {
      await tx
        .insertInto("secret_versions")
        .values(
          chunk.map((v) => ({
            path: v.path,
            version: v.version,
            state: v.state,
            created_at: new Date(v.createdAt),
            created_by: v.createdBy,
            ended_at: v.endedAt === null ? null : new Date(v.endedAt),
            kek_version: v.kekVersion,
            wrapped_dek: v.wrappedDek === null ? null : Buffer.from(v.wrappedDek, "base64"),
            ciphertext: v.ciphertext === null ? null : Buffer.from(v.ciphertext, "base64"),
            rolled_back_from: v.rolledBackFrom,
          })),
        )
        .execute();
    }
  });
  return { secrets: paths.length, versions: versions.length };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}
