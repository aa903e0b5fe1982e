// A root key held in this process (file, environment, combined Shamir shares): it wraps KEKs with
// AES-256-GCM, binding the context as additional authenticated data.
import { type CipherKey, createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Invalid, Unavailable } from "../../../platform/errors.ts";
import { SEALED_MESSAGE } from "../types.ts";
import type { RootKeyKind, RootKeyProvider } from "./types.ts";

export const ROOT_KEY_BYTES = 32;
const FORMAT = 1;
const NONCE = 12;
const TAG = 16;

/** A Buffer view of bytes a driver returned (PGlite gives Uint8Array for bytea). */
export const asBuffer = (u: Uint8Array): Buffer =>
  Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** AES-256-GCM: format byte | 96-bit nonce | ciphertext | 16-byte tag, with `aad` authenticated. */
export function gcmSeal(key: CipherKey, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT), nonce, body, cipher.getAuthTag()]);
}

/** Opens what `gcmSeal` made; null when the bytes, key or `aad` do not match (the caller names what failed). */
export function gcmOpen(key: CipherKey, sealed: Buffer, aad: string): Buffer | null {
  if (sealed.length < 1 + NONCE + TAG || sealed[0] !== FORMAT) return null;
  const nonce = sealed.subarray(1, 1 + NONCE);
  const tag = sealed.subarray(sealed.length - TAG);
  const body = sealed.subarray(1 + NONCE, sealed.length - TAG);
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, nonce, { authTagLength: TAG });
    decipher.setAAD(Buffer.from(aad, "utf8"));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    return null;
  }
}

/** A provider over a 32-byte key that may arrive later (Shamir); until then it is sealed. */
export function localRootKey(kind: RootKeyKind, key: () => Buffer | undefined): RootKeyProvider {
  const current = (): Buffer => {
    const k = key();
    if (!k) throw new Unavailable(SEALED_MESSAGE);
    return k;
  };
  return {
    kind,
    ready: () => key() !== undefined,
    async wrap(plain, context) {
      return gcmSeal(current(), plain, context);
    },
    async unwrap(wrapped, context) {
      const plain = gcmOpen(current(), wrapped, context);
      if (!plain) {
        throw new Invalid(
          `cannot unwrap a key for ${context}: it was tampered with, or wrapped by another root key`,
          "secrets.root",
        );
      }
      return plain;
    },
  };
}
