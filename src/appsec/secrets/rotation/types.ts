// What a rotator does, whatever the system: make a new credential work beside the old one, and
// later retire the old one (two-phase), so consumers have a grace period to move.
import type { Capability, SecretsCaller, SecretsService } from "../types.ts";

/** A secret version's key/value map, as the store holds it. */
export type CredentialData = Record<string, string>;

/** Renews one kind of credential on one target system. */
export interface Rotator {
  readonly kind: "postgres" | "mysql" | "redis" | "random";
  /** Makes a new credential work on the target (the current one keeps working) and returns the new secret value. */
  rotate(current: CredentialData | undefined): Promise<CredentialData>;
  /** Undoes `rotate` when its result could not be stored, so no credential works that nobody holds. */
  discard(next: CredentialData): Promise<void>;
  /** Stops `previous` from working, unless it is still the `current` one. */
  retire(previous: CredentialData, current: CredentialData | undefined): Promise<void>;
}

/** The part of the secrets store (H1's `Secrets`) that rotation uses. */
export interface RotationSecrets extends Pick<SecretsService, "get" | "put" | "metadata" | "setMetadata"> {
  can(caller: SecretsCaller, capability: Capability, path: string): boolean;
  recordRotation(path: string, result: { ok: boolean; version?: number; error?: string }): Promise<void>;
}
