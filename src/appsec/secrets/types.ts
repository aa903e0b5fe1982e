// Layer 3's secrets vocabulary, shared by the store, its API, the CLI, rotation and Kubernetes
// sync. Paths are `/{environment}/{service}/{name}`; a secret is a versioned map of string values.
import type { Identity } from "../../identity/types.ts";
import type { EventRef } from "../../platform/events/index.ts";

/** What a secrets policy can grant on a path. */
export const capabilities = ["read", "list", "create", "update", "delete", "rotate"] as const;
export type Capability = (typeof capabilities)[number];

/** Who asks: the identity (with its groups and roles) and how events name them. */
export interface SecretsCaller {
  identity: Identity;
  actor: EventRef;
}

/** A secret version's life: deleted can be undeleted; destroyed and revoked keep no ciphertext. */
export type VersionState = "active" | "deleted" | "destroyed" | "revoked";

export interface SecretVersionInfo {
  version: number;
  state: VersionState;
  createdAt: string;
  /** The actor id that wrote it (`user:…`, `service:…`, `system:rotation`). */
  createdBy: string;
  /** Set when state is deleted, destroyed or revoked. */
  endedAt?: string;
  /** Which key-encryption key wraps this version's data key (0 once destroyed). */
  kekVersion: number;
  /** The version this one rolled back to, when it was written by a rollback. */
  rolledBackFrom?: number;
}

export interface SecretMetadata {
  path: string;
  /** Highest version number written; 0 for none. */
  currentVersion: number;
  createdAt: string;
  updatedAt: string;
  owner?: string;
  /** How often the secret should change; rotation schedules use it. */
  rotationPeriodDays?: number;
  /** After this instant reads fail with NotFound ("expired"). */
  expiresAt?: string;
  /** Versions beyond this many (oldest first) are destroyed on write. */
  maxVersions: number;
  /** The rotator that renews it (`postgres`, `mysql`, `redis`, `random`), if any. */
  rotator?: string;
  /** Last rotation: when and whether it worked. */
  lastRotation?: { at: string; ok: boolean; version?: number; error?: string };
  /** Newest first. */
  versions: SecretVersionInfo[];
}

export interface SecretValue {
  path: string;
  version: number;
  createdAt: string;
  data: Record<string, string>;
}

export interface MetadataPatch {
  owner?: string | null;
  rotationPeriodDays?: number | null;
  expiresAt?: string | null;
  maxVersions?: number;
  rotator?: string | null;
}

/**
 * The secrets store behind the API, the CLI, rotation and Kubernetes sync. Every method checks the
 * caller's capability on the path first (deny by default) and emits one audit event; values
 * appear in events only as keyed HMACs. Errors: Invalid (bad path or input), NotFound, Forbidden,
 * Conflict (check-and-set), Unavailable (sealed, database down).
 */
export interface SecretsService {
  /** Writes a new version (create on a new path, update on an existing one). `cas`: the current version must equal it (0: the path must be new). */
  put(
    caller: SecretsCaller,
    path: string,
    data: Record<string, string>,
    opts?: { cas?: number },
  ): Promise<SecretVersionInfo>;
  /** The newest version, or `version`; NotFound when that version is not active. Audited as a read. */
  get(caller: SecretsCaller, path: string, opts?: { version?: number }): Promise<SecretValue>;
  /** Paths under a prefix (`/prod/` or `/prod/api/`) that the caller may list; names only. */
  list(caller: SecretsCaller, prefix: string): Promise<string[]>;
  /** Versions and metadata, never values (`list` capability). */
  metadata(caller: SecretsCaller, path: string): Promise<SecretMetadata>;
  /** What the policies in force let the caller do on `path` (Vault's capabilities-self); not audited. */
  capabilities(caller: SecretsCaller, path: string): Capability[];
  setMetadata(caller: SecretsCaller, path: string, patch: MetadataPatch): Promise<SecretMetadata>;
  /** Soft delete: `versions` default to the newest; undelete brings them back. */
  delete(caller: SecretsCaller, path: string, versions?: number[]): Promise<void>;
  undelete(caller: SecretsCaller, path: string, versions: number[]): Promise<void>;
  /** Destroys the ciphertext of these versions for good. */
  destroy(caller: SecretsCaller, path: string, versions: number[]): Promise<void>;
  /** Writes version `version`'s value again as a new version. */
  rollback(caller: SecretsCaller, path: string, version: number): Promise<SecretVersionInfo>;
  /** Incident response: the version can never be read again (ciphertext destroyed), with a reason; a high-severity event. */
  revoke(caller: SecretsCaller, path: string, version: number, reason: string): Promise<void>;
  /** Paths the principal could read under the policies in force (incident response). */
  readableBy(caller: SecretsCaller, principal: Identity): Promise<string[]>;
}

/** Thrown (as Unavailable, status 503) while the root key is not loaded. */
export const SEALED_MESSAGE = "the secrets store is sealed: unseal it with `rampart secrets unseal`";
