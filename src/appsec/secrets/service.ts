// The versioned store behind SecretsService: policy check first (deny by default), one audit event
// per call with values only as keyed HMACs, ciphertext only in the database.
import { setImmediate as yieldToIo } from "node:timers/promises";
import { type Kysely, type Transaction, sql } from "kysely";
import { z } from "zod";
import type { Identity } from "../../identity/types.ts";
import type { Clock } from "../../platform/clock.ts";
import { Conflict, Forbidden, Invalid, NotFound, Unavailable } from "../../platform/errors.ts";
import {
  type EventRef,
  newEvent,
  type Outcome,
  type SecurityEvent,
  type Severity,
} from "../../platform/events/index.ts";
import type { Listener, Store } from "../../platform/store/index.ts";
import { openVersion, rewrapDek, SecretIntegrityError, sealVersion } from "./crypto.ts";
import type { Keyring } from "./keyring.ts";
import { asBuffer } from "./keys/local.ts";
import { secretData, secretPath, secretPrefix } from "./paths.ts";
import type { SecretsConfig } from "./schema.ts";
import type { SecretsTables } from "./tables.ts";
import {
  type Capability,
  capabilities,
  type MetadataPatch,
  SEALED_MESSAGE,
  type SecretMetadata,
  type SecretsCaller,
  type SecretsService,
  type SecretValue,
  type SecretVersionInfo,
  type VersionState,
} from "./types.ts";

type Db = Kysely<SecretsTables>;
type PathRow = SecretsTables["secret_paths"];
type VersionRow = SecretsTables["secret_versions"];

export interface StoreCore extends SecretsService {
  rewrap(batch: number): Promise<number>;
  recordRotation(
    path: string,
    result: { ok: boolean; version?: number; error?: string },
    actor: EventRef,
  ): Promise<void>;
  /** Emits one audit event about the store itself (seal, keys, backup). */
  emitStoreEvent(
    type: string,
    actor: EventRef,
    data: Record<string, unknown>,
    severity?: Severity,
    outcome?: Outcome,
  ): void;
  /**
   * Runs a change to the whole store made outside this module (restore): cached rows go when it
   * begins and ends, and `announce(tx)`, run inside its transaction, tells the other servers.
   */
  changeAll<T>(fn: (announce: (tx: Transaction<SecretsTables>) => Promise<void>) => Promise<T>): Promise<T>;
  /** Stops listening for other servers' writes. */
  close(): Promise<void>;
}

export interface StoreCoreOptions {
  store: Store;
  config: () => SecretsConfig;
  clock: Clock;
  emit: (e: SecurityEvent) => void;
  /** The unsealed keyring, or undefined while sealed. */
  keyring: () => Keyring | undefined;
  can: (caller: SecretsCaller, capability: Capability, path: string) => boolean;
  /**
   * Keep the sealed row of a path's current version in memory after a read (see `sealedRows`):
   * `true` where every write passes through this process (embedded PGlite); `"listen"` where other
   * servers write too (PostgreSQL): writes then announce their path on SECRETS_CHANNEL, and rows are
   * kept only while `store.listen` hears them, for at most SEALED_ROW_MAX_AGE_MS.
   */
  cacheSealedRows?: boolean | "listen";
}

const SEALED_ROWS = 10_000;
/** The NOTIFY channel on which every write announces the path it changed ('*': all of them). */
export const SECRETS_CHANNEL = "rampart_secrets";
/** A safety net against a change made outside Rampart (without a NOTIFY), on PostgreSQL. */
export const SEALED_ROW_MAX_AGE_MS = 10_000;

const rotators = ["postgres", "mysql", "redis", "random"] as const;
const metadataPatchSchema = z.strictObject({
  owner: z.string().trim().min(1).max(256).nullable().optional(),
  rotationPeriodDays: z.number().positive().max(3650).nullable().optional(),
  expiresAt: z.iso.datetime({ offset: true }).nullable().optional(),
  maxVersions: z.number().int().min(1).max(1000).optional(),
  rotator: z.enum(rotators).nullable().optional(),
});
const versionsSchema = z.array(z.number().int().positive()).min(1).max(1000);

interface ReadRow {
  expires_at: Date | null;
  version: number | null;
  state: string | null;
  created_at: Date | null;
  kek_version: number | null;
  wrapped_dek: Uint8Array | null;
  ciphertext: Uint8Array | null;
}

/** Raised inside a transaction so it rolls back; turned into an audited Forbidden outside. */
class Denied extends Error {
  readonly capability: Capability;
  constructor(capability: Capability) {
    super(capability);
    this.capability = capability;
  }
}

const actorName = (a: EventRef) => `${a.kind}:${a.id}`;

/** Builds the store over its tables (and, with `cacheSealedRows: "listen"`, starts listening). */
export async function createStoreCore(o: StoreCoreOptions): Promise<StoreCore> {
  const db: Db = o.store.db.withTables<SecretsTables>();
  const now = () => o.clock.now();

  const ring = (): Keyring => {
    const k = o.keyring();
    if (!k) throw new Unavailable(SEALED_MESSAGE);
    return k;
  };

  const emit = (
    type: string,
    actor: EventRef,
    target: string,
    data: Record<string, unknown>,
    extra: { severity?: Severity; outcome?: Outcome } = {},
  ) =>
    o.emit(
      newEvent(
        { type, actor, target: { kind: "secret", id: target }, retention: "audit", data, ...extra },
        now(),
      ),
    );

  const hashes = (data: Record<string, string>): Record<string, string> => {
    const k = ring();
    const out: Record<string, string> = {};
    for (const key in data) out[key] = k.auditHash(data[key] as string);
    return out;
  };

  const deny = (caller: SecretsCaller, capability: Capability, path: string, operation: string): never => {
    emit(
      "secrets.denied",
      caller.actor,
      path,
      { capability, operation },
      { outcome: "denied", severity: "medium" },
    );
    throw new Forbidden(`no secrets policy grants '${capability}' on ${path}`);
  };

  const require = (caller: SecretsCaller, capability: Capability, path: string, operation: string) => {
    if (!o.can(caller, capability, path)) deny(caller, capability, path, operation);
  };

  const maxVersionsOf = (row: Pick<PathRow, "max_versions">) => row.max_versions ?? o.config().maxVersions;

  const lockPath = (tx: Transaction<SecretsTables>, path: string) =>
    tx.selectFrom("secret_paths").selectAll().where("path", "=", path).forUpdate().executeTakeFirst();

  const pathRow = (path: string) =>
    db.selectFrom("secret_paths").selectAll().where("path", "=", path).executeTakeFirst();

  // Versions beyond max_versions (by number, oldest first) leave the store for good.
  const prune = (tx: Transaction<SecretsTables>, path: string, newest: number, max: number) =>
    tx
      .deleteFrom("secret_versions")
      .where("path", "=", path)
      .where("version", "<=", newest - max)
      .execute();

  // As Vault's physical cache: after a read, the current version's row stays in memory, still
  // sealed (its data key is unwrapped on every read). Any write drops the path's row when it begins
  // and when it ends, and a read keeps its row only if no write began or ended while it ran. On
  // PostgreSQL, another server's write drops it too, when its NOTIFY arrives (at its commit); while
  // the listener is down, nothing is cached (notifications may be missed).
  const sealedRows = o.cacheSealedRows ? new Map<string, { row: ReadRow; at: number }>() : undefined;
  const coherent = o.cacheSealedRows === "listen";
  const maxAgeMs = coherent ? SEALED_ROW_MAX_AGE_MS : Number.POSITIVE_INFINITY;
  let caching = o.cacheSealedRows === true;
  let writeTicks = 0;
  function changing(path?: string): void {
    writeTicks++;
    if (path === undefined) sealedRows?.clear();
    else sealedRows?.delete(path);
  }
  /** Tells every server (this one too) that `path` ('*': everything) changed; delivered at commit. */
  const announce = async (tx: Kysely<SecretsTables>, path = "*") => {
    if (coherent) await sql`select pg_notify(${SECRETS_CHANNEL}, ${path})`.execute(tx);
  };
  let listener: Listener | undefined;
  if (coherent && o.store.listen) {
    listener = await o.store.listen(SECRETS_CHANNEL, {
      onNotify: (path) => changing(path === "*" ? undefined : path),
      onReset: (listening) => {
        changing();
        caching = listening;
      },
    });
  }
  async function writing<T>(path: string | undefined, fn: () => Promise<T>): Promise<T> {
    changing(path);
    try {
      return await fn();
    } finally {
      changing(path);
    }
  }

  /** Seals and inserts the next version of a locked path row. */
  async function writeVersion(
    tx: Transaction<SecretsTables>,
    row: PathRow,
    data: Record<string, string>,
    caller: SecretsCaller,
    rolledBackFrom: number | null,
  ): Promise<SecretVersionInfo> {
    const k = ring();
    const version = row.current_version + 1;
    const kekVersion = k.currentVersion;
    const sealed = sealVersion(await k.kek(kekVersion), kekVersion, row.path, version, data);
    const at = now();
    await tx
      .insertInto("secret_versions")
      .values({
        path: row.path,
        version,
        state: "active",
        created_at: at,
        created_by: actorName(caller.actor),
        ended_at: null,
        kek_version: kekVersion,
        wrapped_dek: sealed.wrappedDek,
        ciphertext: sealed.ciphertext,
        rolled_back_from: rolledBackFrom,
      })
      .execute();
    await tx
      .updateTable("secret_paths")
      .set({ current_version: version, updated_at: at })
      .where("path", "=", row.path)
      .execute();
    await prune(tx, row.path, version, maxVersionsOf(row));
    return {
      version,
      state: "active",
      createdAt: at.toISOString(),
      createdBy: actorName(caller.actor),
      kekVersion,
      ...(rolledBackFrom !== null ? { rolledBackFrom } : {}),
    };
  }

  /** Runs `fn` on the locked row of an existing path; Denied becomes an audited Forbidden. */
  async function onPath<T>(
    caller: SecretsCaller,
    path: string,
    operation: string,
    fn: (tx: Transaction<SecretsTables>, row: PathRow) => Promise<T>,
  ): Promise<T> {
    try {
      return await writing(path, () =>
        db.transaction().execute(async (tx) => {
          const row = await lockPath(tx, path);
          if (!row || row.current_version === 0) throw new NotFound(`no secret at ${path}`);
          await announce(tx, path);
          return fn(tx, row);
        }),
      );
    } catch (err) {
      if (err instanceof Denied) return deny(caller, err.capability, path, operation);
      throw err;
    }
  }

  async function rewrapAll(batch: number): Promise<number> {
    const k = ring();
    const target = k.currentVersion;
    const to = { kek: await k.kek(target), version: target };
    let total = 0;
    for (;;) {
      const rows = await db
        .selectFrom("secret_versions")
        .select(["path", "version", "kek_version", "wrapped_dek"])
        .where("kek_version", "<", target)
        .where("ciphertext", "is not", null)
        .orderBy("kek_version")
        .limit(batch)
        .execute();
      if (rows.length === 0) break;
      for (const r of rows) {
        if (!r.wrapped_dek) continue;
        const from = { kek: await k.kek(r.kek_version), version: r.kek_version };
        const wrapped = rewrapDek(from, to, r.path, r.version, asBuffer(r.wrapped_dek));
        // Each row flips in one statement, guarded on what was read: a concurrent destroy or
        // re-wrap wins, and a stop half-way leaves every row readable under its own KEK.
        const res = await db
          .updateTable("secret_versions")
          .set({ wrapped_dek: wrapped, kek_version: target })
          .where("path", "=", r.path)
          .where("version", "=", r.version)
          .where("kek_version", "=", r.kek_version)
          .where("ciphertext", "is not", null)
          .executeTakeFirst();
        total += Number(res.numUpdatedRows);
      }
      // Each row committed on its own above; a server that read one meanwhile drops it now (its
      // old data key stays readable under the old KEK until then).
      await announce(db);
    }
    return total;
  }

  async function readRow(path: string, wanted: number | undefined): Promise<ReadRow | undefined> {
    const ticks = writeTicks;
    const { rows } = await sql<ReadRow>`select p.expires_at, v.version, v.state, v.created_at, v.kek_version,
             v.wrapped_dek, v.ciphertext
        from secret_paths p
        left join secret_versions v on v.path = p.path and v.version = ${wanted ?? sql.ref("p.current_version")}
       where p.path = ${path}`.execute(db);
    const r = rows[0];
    if (sealedRows && caching && wanted === undefined && r?.state === "active" && ticks === writeTicks) {
      if (sealedRows.size >= SEALED_ROWS) sealedRows.clear();
      sealedRows.set(path, { row: r, at: performance.now() });
    }
    return r;
  }

  async function cachedRow(path: string): Promise<ReadRow | undefined> {
    if (!sealedRows?.has(path)) return undefined;
    // On PostgreSQL, I/O already received (a NOTIFY) runs first; this also keeps a loop of cached
    // reads from starving the I/O (other servers' notifications, this one's own writes).
    if (coherent) await yieldToIo();
    const c = sealedRows.get(path);
    return c && performance.now() - c.at < maxAgeMs ? c.row : undefined;
  }

  async function decrypt(
    path: string,
    v: Pick<VersionRow, "version" | "kek_version" | "wrapped_dek" | "ciphertext">,
  ) {
    const k = ring();
    if (!v.wrapped_dek || !v.ciphertext)
      throw new NotFound(`version ${v.version} of ${path} has no ciphertext`);
    const kek = k.cached(v.kek_version) ?? (await k.kek(v.kek_version));
    return openVersion(kek, v.kek_version, path, v.version, {
      wrappedDek: asBuffer(v.wrapped_dek),
      ciphertext: asBuffer(v.ciphertext),
    });
  }

  const versionInfo = (v: VersionRow): SecretVersionInfo => ({
    version: v.version,
    state: v.state as VersionState,
    createdAt: v.created_at.toISOString(),
    createdBy: v.created_by,
    ...(v.ended_at ? { endedAt: v.ended_at.toISOString() } : {}),
    kekVersion: v.kek_version,
    ...(v.rolled_back_from !== null ? { rolledBackFrom: v.rolled_back_from } : {}),
  });

  async function readMetadata(path: string, row?: PathRow): Promise<SecretMetadata> {
    const p = row ?? (await pathRow(path));
    if (!p || p.current_version === 0) throw new NotFound(`no secret at ${path}`);
    const versions = await db
      .selectFrom("secret_versions")
      .select([
        "version",
        "state",
        "created_at",
        "created_by",
        "ended_at",
        "kek_version",
        "rolled_back_from",
        "path",
      ])
      .where("path", "=", path)
      .orderBy("version", "desc")
      .execute();
    return {
      path,
      currentVersion: p.current_version,
      createdAt: p.created_at.toISOString(),
      updatedAt: p.updated_at.toISOString(),
      ...(p.owner !== null ? { owner: p.owner } : {}),
      ...(p.rotation_period_days !== null ? { rotationPeriodDays: p.rotation_period_days } : {}),
      ...(p.expires_at ? { expiresAt: p.expires_at.toISOString() } : {}),
      maxVersions: maxVersionsOf(p),
      ...(p.rotator !== null ? { rotator: p.rotator } : {}),
      ...(p.last_rotation_at
        ? {
            lastRotation: {
              at: p.last_rotation_at.toISOString(),
              ok: p.last_rotation_ok === true,
              ...(p.last_rotation_version !== null ? { version: p.last_rotation_version } : {}),
              ...(p.last_rotation_error !== null ? { error: p.last_rotation_error } : {}),
            },
          }
        : {}),
      versions: versions.map((v) => versionInfo({ ...v, wrapped_dek: null, ciphertext: null })),
    };
  }

  /** Applies a state change to some versions of a path. */
  async function changeVersions(
    caller: SecretsCaller,
    path: string,
    versions: number[] | undefined,
    op: {
      name: string;
      capability: Capability;
      event: string;
      severity?: Severity;
      extra?: Record<string, unknown>;
    },
    apply: (tx: Transaction<SecretsTables>, v: VersionRow, at: Date) => Promise<void>,
  ): Promise<number[]> {
    secretPath(path);
    if (versions !== undefined) {
      const parsed = versionsSchema.safeParse(versions);
      if (!parsed.success) throw new Invalid("expected a list of version numbers", "versions");
    }
    ring();
    require(caller, op.capability, path, op.name);
    const done = await onPath(caller, path, op.name, async (tx, row) => {
      let wanted = versions;
      if (!wanted) {
        const newest = await tx
          .selectFrom("secret_versions")
          .select("version")
          .where("path", "=", path)
          .where("state", "=", "active")
          .orderBy("version", "desc")
          .limit(1)
          .executeTakeFirst();
        if (!newest) throw new NotFound(`${path} has no active version`);
        wanted = [newest.version];
      }
      const rows = await tx
        .selectFrom("secret_versions")
        .selectAll()
        .where("path", "=", path)
        .where("version", "in", wanted)
        .execute();
      const missing = wanted.filter((w) => !rows.some((r) => r.version === w));
      if (missing.length > 0) {
        throw new NotFound(
          `${path} has no version ${missing.join(", ")} (current is ${row.current_version})`,
        );
      }
      const at = now();
      for (const r of rows) await apply(tx, r, at);
      return wanted;
    });
    emit(
      op.event,
      caller.actor,
      path,
      { versions: done, ...op.extra },
      op.severity ? { severity: op.severity } : {},
    );
    return done;
  }

  const setVersion = (tx: Transaction<SecretsTables>, v: VersionRow, set: Partial<VersionRow>) =>
    tx
      .updateTable("secret_versions")
      .set(set)
      .where("path", "=", v.path)
      .where("version", "=", v.version)
      .execute();
  // Destroyed and revoked versions keep their row (history) but no ciphertext or data key.
  const endVersion = (tx: Transaction<SecretsTables>, v: VersionRow, state: VersionState, at: Date) =>
    setVersion(tx, v, { state, ended_at: at, wrapped_dek: null, ciphertext: null, kek_version: 0 });

  return {
    async put(caller, path, data, opts = {}) {
      secretPath(path);
      const values = secretData(data);
      const cas = opts.cas;
      if (cas !== undefined && (!Number.isInteger(cas) || cas < 0))
        throw new Invalid("expected a version number >= 0", "cas");
      ring();
      const mayCreate = o.can(caller, "create", path);
      const mayUpdate = o.can(caller, "update", path);
      if (!mayCreate && !mayUpdate) deny(caller, "create", path, "put");
      let info: SecretVersionInfo;
      try {
        info = await writing(path, () =>
          db.transaction().execute(async (tx) => {
            const at = now();
            // The insert makes a row to lock on a new path; two writers then serialise on it.
            await tx
              .insertInto("secret_paths")
              .values({
                path,
                current_version: 0,
                created_at: at,
                updated_at: at,
                owner: null,
                rotation_period_days: null,
                expires_at: null,
                max_versions: null,
                rotator: null,
                last_rotation_at: null,
                last_rotation_ok: null,
                last_rotation_version: null,
                last_rotation_error: null,
              })
              .onConflict((oc) => oc.column("path").doNothing())
              .execute();
            const row = (await lockPath(tx, path)) as PathRow;
            await announce(tx, path);
            const isNew = row.current_version === 0;
            if (isNew ? !mayCreate : !mayUpdate) throw new Denied(isNew ? "create" : "update");
            if (cas !== undefined && cas !== row.current_version) {
              throw new Conflict(
                `check-and-set failed on ${path}: expected version ${cas}, current is ${row.current_version}`,
              );
            }
            return writeVersion(tx, row, values, caller, null);
          }),
        );
      } catch (err) {
        if (err instanceof Denied) return deny(caller, err.capability, path, "put");
        throw err;
      }
      emit("secrets.written", caller.actor, path, {
        version: info.version,
        keys: Object.keys(values),
        values: hashes(values),
        ...(cas !== undefined ? { cas } : {}),
      });
      return info;
    },

    async get(caller, path, opts = {}) {
      secretPath(path);
      const wanted = opts.version;
      if (wanted !== undefined && (!Number.isInteger(wanted) || wanted < 1)) {
        throw new Invalid("expected a version number >= 1", "version");
      }
      ring();
      if (!o.can(caller, "read", path)) deny(caller, "read", path, "get");
      // One round trip: the path's expiry and its current version (or the one asked for), by
      // primary key. A current version that is deleted, destroyed or revoked reads as gone, as in
      // Vault: consumers never fall back to an older value (after a revoke, an older one may be
      // just as compromised).
      const r = (wanted === undefined ? await cachedRow(path) : undefined) ?? (await readRow(path, wanted));
      const fail = (reason: string): never => {
        emit(
          "secrets.read",
          caller.actor,
          path,
          { ...(wanted ? { version: wanted } : {}), reason },
          { outcome: "failure" },
        );
        throw new NotFound(reason);
      };
      if (!r) return fail(`no secret at ${path}`);
      if (r.expires_at && r.expires_at.getTime() <= now().getTime()) {
        return fail(`${path} expired at ${r.expires_at.toISOString()}`);
      }
      if (r.version === null || r.created_at === null || r.kek_version === null) {
        return fail(wanted ? `${path} has no version ${wanted}` : `${path} has no versions`);
      }
      if (r.state !== "active")
        return fail(
          wanted
            ? `version ${r.version} of ${path} is ${r.state}`
            : `the newest version (${r.version}) of ${path} is ${r.state}: ${r.state === "deleted" ? "undelete it, " : ""}roll back or write a new version`,
        );
      let data: Record<string, string>;
      try {
        data = await decrypt(path, {
          version: r.version,
          kek_version: r.kek_version,
          wrapped_dek: r.wrapped_dek as Buffer,
          ciphertext: r.ciphertext as Buffer,
        });
      } catch (err) {
        // Ciphertext that fails authentication means someone wrote to the database behind our back.
        if (err instanceof SecretIntegrityError) {
          emit(
            "secrets.integrity_failed",
            caller.actor,
            path,
            { version: r.version, kekVersion: r.kek_version },
            { severity: "critical", outcome: "error" },
          );
        }
        throw err;
      }
      emit("secrets.read", caller.actor, path, {
        version: r.version,
        keys: Object.keys(data),
        values: hashes(data),
      });
      return { path, version: r.version, createdAt: r.created_at.toISOString(), data } satisfies SecretValue;
    },

    async list(caller, prefix) {
      const p = secretPrefix(prefix);
      ring();
      const rows = await db
        .selectFrom("secret_paths")
        .select("path")
        .where(sql<boolean>`starts_with(path, ${p})`)
        .where("current_version", ">", 0)
        .orderBy("path")
        .execute();
      const paths = rows.map((r) => r.path).filter((path) => o.can(caller, "list", path));
      o.emit(
        newEvent(
          {
            type: "secrets.listed",
            actor: caller.actor,
            target: { kind: "secret", id: p },
            retention: "audit",
            data: { prefix: p, count: paths.length },
          },
          now(),
        ),
      );
      return paths;
    },

    async metadata(caller, path) {
      secretPath(path);
      ring();
      require(caller, "list", path, "metadata");
      const meta = await readMetadata(path);
      emit("secrets.metadata_read", caller.actor, path, { currentVersion: meta.currentVersion });
      return meta;
    },

    capabilities(caller, path) {
      secretPath(path);
      return capabilities.filter((c) => o.can(caller, c, path));
    },

    async setMetadata(caller, path, patch) {
      secretPath(path);
      const parsed = metadataPatchSchema.safeParse(patch);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Invalid(
          issue?.message ?? "invalid metadata",
          `metadata${issue?.path.length ? `.${issue.path.join(".")}` : ""}`,
        );
      }
      const p: MetadataPatch = parsed.data;
      ring();
      require(caller, "update", path, "setMetadata");
      const row = await onPath(caller, path, "setMetadata", async (tx, current) => {
        const set: Partial<PathRow> = { updated_at: now() };
        if (p.owner !== undefined) set.owner = p.owner;
        if (p.rotationPeriodDays !== undefined) set.rotation_period_days = p.rotationPeriodDays;
        if (p.expiresAt !== undefined) set.expires_at = p.expiresAt === null ? null : new Date(p.expiresAt);
        if (p.maxVersions !== undefined) set.max_versions = p.maxVersions;
        if (p.rotator !== undefined) set.rotator = p.rotator;
        const updated = await tx
          .updateTable("secret_paths")
          .set(set)
          .where("path", "=", path)
          .returningAll()
          .executeTakeFirstOrThrow();
        await prune(tx, path, current.current_version, maxVersionsOf(updated));
        return updated;
      });
      emit("secrets.metadata_changed", caller.actor, path, { fields: Object.keys(p) });
      return readMetadata(path, row);
    },

    async delete(caller, path, versions) {
      await changeVersions(
        caller,
        path,
        versions,
        { name: "delete", capability: "delete", event: "secrets.deleted" },
        async (tx, v, at) => {
          if (v.state !== "active") return;
          await setVersion(tx, v, { state: "deleted", ended_at: at });
        },
      );
    },

    async undelete(caller, path, versions) {
      await changeVersions(
        caller,
        path,
        versions,
        { name: "undelete", capability: "update", event: "secrets.undeleted" },
        async (tx, v) => {
          if (v.state === "active") return;
          if (v.state !== "deleted") {
            throw new Conflict(`version ${v.version} of ${path} is ${v.state} and cannot be undeleted`);
          }
          await setVersion(tx, v, { state: "active", ended_at: null });
        },
      );
    },

    async destroy(caller, path, versions) {
      await changeVersions(
        caller,
        path,
        versions,
        { name: "destroy", capability: "delete", event: "secrets.destroyed" },
        async (tx, v, at) => {
          if (v.state === "destroyed" || v.state === "revoked") return;
          await endVersion(tx, v, "destroyed", at);
        },
      );
    },

    async revoke(caller, path, version, reason) {
      const why = typeof reason === "string" ? reason.trim() : "";
      if (!why || why.length > 1000)
        throw new Invalid("a revocation needs a reason (at most 1000 characters)", "reason");
      await changeVersions(
        caller,
        path,
        [version],
        {
          name: "revoke",
          capability: "delete",
          event: "secrets.revoked",
          severity: "high",
          extra: { reason: why },
        },
        async (tx, v, at) => {
          if (v.state === "revoked") return;
          await endVersion(tx, v, "revoked", at);
        },
      );
    },

    async rollback(caller, path, version) {
      secretPath(path);
      if (!Number.isInteger(version) || version < 1)
        throw new Invalid("expected a version number >= 1", "version");
      ring();
      require(caller, "update", path, "rollback");
      const info = await onPath(caller, path, "rollback", async (tx, row) => {
        const old = await tx
          .selectFrom("secret_versions")
          .selectAll()
          .where("path", "=", path)
          .where("version", "=", version)
          .executeTakeFirst();
        if (!old) throw new NotFound(`${path} has no version ${version}`);
        if (old.state !== "active")
          throw new Conflict(
            `version ${version} of ${path} is ${old.state}; only an active version can be rolled back to`,
          );
        const data = await decrypt(path, old);
        return writeVersion(tx, row, data, caller, version);
      });
      emit("secrets.rolled_back", caller.actor, path, { version: info.version, from: version });
      return info;
    },

    async readableBy(caller, principal: Identity) {
      ring();
      const rows = await db
        .selectFrom("secret_paths")
        .select("path")
        .where("current_version", ">", 0)
        .orderBy("path")
        .execute();
      const asPrincipal: SecretsCaller = {
        identity: principal,
        actor: { kind: principal.kind, id: principal.subject },
      };
      const paths = rows
        .map((r) => r.path)
        .filter((path) => o.can(caller, "list", path) && o.can(asPrincipal, "read", path));
      o.emit(
        newEvent(
          {
            type: "secrets.access_reviewed",
            actor: caller.actor,
            target: { kind: principal.kind, id: principal.subject },
            retention: "audit",
            data: { count: paths.length },
          },
          now(),
        ),
      );
      return paths;
    },

    rewrap: (batch) => writing(undefined, () => rewrapAll(batch)),

    changeAll: (fn) => writing(undefined, () => fn((tx) => announce(tx))),

    async close() {
      await listener?.close();
    },

    async recordRotation(path, result, actor) {
      secretPath(path);
      const at = now();
      const res = await db
        .updateTable("secret_paths")
        .set({
          last_rotation_at: at,
          last_rotation_ok: result.ok,
          last_rotation_version: result.version ?? null,
          last_rotation_error: result.ok ? null : (result.error ?? "rotation failed").slice(0, 1000),
        })
        .where("path", "=", path)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) throw new NotFound(`no secret at ${path}`);
      if (result.ok) {
        emit("secrets.rotated", actor, path, { ...(result.version ? { version: result.version } : {}) });
      } else {
        emit(
          "secrets.rotation_failed",
          actor,
          path,
          { error: (result.error ?? "rotation failed").slice(0, 1000) },
          { severity: "high", outcome: "failure" },
        );
      }
    },

    emitStoreEvent(type, actor, data, severity = "info", outcome = "success") {
      o.emit(
        newEvent(
          {
            type,
            actor,
            target: { kind: "secrets", id: "store" },
            retention: "audit",
            data,
            severity,
            outcome,
          },
          now(),
        ),
      );
    },
  };
}
