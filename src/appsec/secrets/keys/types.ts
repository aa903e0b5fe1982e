// The root of the key hierarchy: a provider that wraps and unwraps key-encryption keys (KEKs).
// Local providers hold a 32-byte root key (file, environment, Shamir shares); cloud providers
// never let the root key leave the KMS.

export type RootKeyKind = "file" | "env" | "shamir" | "aws-kms" | "gcp-kms" | "azure-key-vault";

export interface RootKeyProvider {
  readonly kind: RootKeyKind;
  /** Encrypts a KEK. `context` (e.g. `rampart:kek:3`) is bound to the result: unwrap with another context fails. */
  wrap(key: Buffer, context: string): Promise<Buffer>;
  /** Decrypts what `wrap` returned; throws a clear error on tampering or a wrong context. */
  unwrap(wrapped: Buffer, context: string): Promise<Buffer>;
  /** False while sealed (Shamir shares not yet combined); wrap/unwrap then throw Unavailable. */
  ready(): boolean;
}
