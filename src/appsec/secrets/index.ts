// Layer 3's secrets manager: envelope-encrypted, versioned secrets under a sealed key hierarchy,
// path policies, audit events with HMAC'd values, backup and restore.
import type { Clock } from "../../platform/clock.ts";
import { Invalid, Unavailable } from "../../platform/errors.ts";
import type { EventRef, SecurityEvent } from "../../platform/events/index.ts";
import type { Logger } from "../../platform/logging.ts";
import type { Store } from "../../platform/store/index.ts";
import { restoreBackup, writeBackup } from "./backup.ts";
import { type Keyring, openKeyring, SEED_NAME } from "./keyring.ts";
import { openRootKey } from "./keys/index.ts";
import type { RootKeyKind, RootKeyProvider } from "./keys/types.ts";
import { ADMIN_ROLE, policyCache } from "./policy.ts";
import type { SecretsConfig } from "./schema.ts";
import { createStoreCore } from "./service.ts";
import { type Capability, SEALED_MESSAGE, type SecretsCaller, type SecretsService } from "./types.ts";

export { BACKUP_FORMAT } from "./backup.ts";
export { SecretIntegrityError } from "./crypto.ts";
export {
  defaultRootKeyFile,
  envRootKey,
  fileRootKey,
  initShamir,
  localRootKey,
  openRootKey,
  ROOT_KEY_BYTES,
} from "./keys/index.ts";
export type { RootKeyKind, RootKeyProvider } from "./keys/types.ts";
export { MAX_SECRET_BYTES, MAX_VALUE_BYTES, secretData, secretPath, secretPrefix } from "./paths.ts";
export {
  ADMIN_ROLE,
  type CompiledPolicies,
  compileGlob,
  compilePolicies,
  type PathMatcher,
} from "./policy.ts";
export * from "./schema.ts";
export { type SecretsTables, secretsMigrations } from "./tables.ts";
export * from "./types.ts";

export interface SecretsOptions {
  store: Store;
  config: () => SecretsConfig;
  dataDir: string;
  clock: Clock;
  emit: (e: SecurityEvent) => void;
  logger?: Logger;
  /** A cloud KMS provider built by the server (keys/cloud.ts); local kinds are built here. */
  root?: RootKeyProvider;
}

export interface SecretsStatus {
  sealed: boolean;
  provider: RootKeyKind;
  kekVersion: number;
  /** When the current KEK was made; absent while sealed. */
  kekCreatedAt?: string;
  unseal?: { submitted: number; threshold: number };
}

export interface Secrets extends SecretsService {
  status(): SecretsStatus;
  /** Submits one Shamir share; unseals at the threshold. */
  unseal(share: string, actor: EventRef): Promise<SecretsStatus>;
  /** Makes a new current KEK; older data keys stay readable until `rewrap` moves them. */
  rotateKek(actor: EventRef): Promise<{ version: number }>;
  /** Re-wraps data keys under older KEKs with the current one, in batches; returns how many. */
  rewrap(opts?: { batch?: number }): Promise<number>;
  can(caller: SecretsCaller, capability: Capability, path: string): boolean;
  /** The keyed HMAC audit events carry for `value`, so an auditor can ask "was this value written". */
  auditHash(value: string): string;
  /** Rotation's bookkeeping (no policy check; audited). */
  recordRotation(path: string, result: { ok: boolean; version?: number; error?: string }): Promise<void>;
  /** The encrypted store as a backup document. */
  backup(actor: EventRef): Promise<string>;
  /** Loads a verified backup into an empty store, all or nothing. */
  restore(document: string, actor: EventRef): Promise<{ secrets: number; versions: number }>;
  close(): Promise<void>;
}

/** The identity rotation acts as: role admin, named `system:rotation` in events. */
export const rotationCaller: SecretsCaller = {
  identity: {
    kind: "service",
    subject: "rampart:rotation",
    groups: [],
    roles: [ADMIN_ROLE],
    claims: {},
    credential: "api-key",
  },
  actor: { kind: "system", id: "rotation" },
};

/** Opens the secrets store; sealed (Unavailable on every call) until the root key is available. */
export async function openSecrets(o: SecretsOptions): Promise<Secrets> {
  const { provider, shamir } = await openRootKey(o.config().root, {
    store: o.store,
    dataDir: o.dataDir,
    root: o.root,
  });
  let keyring: Keyring | undefined;
  if (provider.ready()) keyring = await openKeyring(o.store, provider, o.clock.now());

  const can = policyCache(() => o.config().policies);
  const core = await createStoreCore({
    store: o.store,
    config: o.config,
    clock: o.clock,
    emit: o.emit,
    keyring: () => keyring,
    can,
    // PGlite belongs to this one process, so every write passes through here and a cached row
    // can never be stale; several servers on PostgreSQL hear each other's writes by NOTIFY.
    cacheSealedRows: o.store.kind === "pglite" ? true : "listen",
  });
  const unsealed = (): Keyring => {
    if (!keyring) throw new Unavailable(SEALED_MESSAGE);
    return keyring;
  };

  const status = (): SecretsStatus => ({
    sealed: keyring === undefined,
    provider: provider.kind,
    kekVersion: keyring?.currentVersion ?? 0,
    ...(keyring ? { kekCreatedAt: keyring.currentCreatedAt.toISOString() } : {}),
    ...(shamir && !keyring ? { unseal: shamir.progress() } : {}),
  });

  return {
    ...core,
    status,
    can,
    async unseal(share, actor) {
      if (!shamir)
        throw new Invalid(
          `unseal applies to the shamir root key provider, not ${provider.kind}`,
          "secrets.root",
        );
      if (keyring) return status();
      let done: boolean;
      try {
        done = (await shamir.submit(share)).unsealed;
      } catch (err) {
        core.emitStoreEvent(
          "secrets.unseal_failed",
          actor,
          { reason: (err as Error).message },
          "medium",
          "failure",
        );
        throw err;
      }
      if (done) {
        keyring = await openKeyring(o.store, provider, o.clock.now());
        core.emitStoreEvent("secrets.unsealed", actor, {
          provider: provider.kind,
          kekVersion: keyring.currentVersion,
        });
        o.logger?.info({ provider: provider.kind }, "secrets store unsealed");
      }
      return status();
    },
    async rotateKek(actor) {
      const version = await unsealed().rotate(o.clock.now());
      core.emitStoreEvent("secrets.kek_rotated", actor, { kekVersion: version });
      return { version };
    },
    async rewrap(opts = {}) {
      unsealed();
      const batch = opts.batch ?? 100;
      if (!Number.isInteger(batch) || batch < 1 || batch > 10_000)
        throw new Invalid("expected 1 to 10000", "batch");
      // Another server may have rotated: re-wrap towards the newest KEK, and wrap new data keys with it.
      await unsealed().adoptNewest();
      const count = await core.rewrap(batch);
      // A pass with nothing to move (every start checks) is not an event.
      if (count > 0)
        core.emitStoreEvent(
          "secrets.rewrapped",
          { kind: "system", id: "rampart" },
          { count, kekVersion: unsealed().currentVersion },
        );
      return count;
    },
    auditHash: (value) => unsealed().auditHash(value),
    recordRotation: (path, result) => core.recordRotation(path, result, rotationCaller.actor),
    async backup(actor) {
      const k = unsealed();
      const { document, counts } = await writeBackup(o.store, {
        provider: provider.kind,
        now: o.clock.now(),
        seedName: SEED_NAME,
        mac: (sha) => k.backupMac(sha),
      });
      core.emitStoreEvent("secrets.backed_up", actor, counts);
      return document;
    },
    async restore(document, actor) {
      const k = unsealed();
      try {
        const counts = await core.changeAll((announce) =>
          restoreBackup(o.store, document, {
            root: provider,
            seedName: SEED_NAME,
            now: o.clock.now(),
            announce,
          }),
        );
        await k.reload();
        core.emitStoreEvent("secrets.restored", actor, counts, "high");
        return counts;
      } catch (err) {
        core.emitStoreEvent(
          "secrets.restore_failed",
          actor,
          { reason: (err as Error).message },
          "high",
          "failure",
        );
        throw err;
      }
    },
    async close() {
      keyring = undefined;
      await core.close();
    },
  };
}
