// People's data keys are stored wrapped (AES-256-GCM) under a key derived from the audit key file,
// so a database dump or backup alone opens no personal details. The subject key is the AAD: a
// wrapped key copied onto another person's row does not open.
import { createCipheriv, createDecipheriv, type KeyObject, randomBytes } from "node:crypto";

const NONCE = 12;
const KEY = 32;
const TAG = 16;

/** Length of a stored wrapped key: nonce, wrapped key, tag. */
export const WRAPPED_LENGTH = NONCE + KEY + TAG;
/** Length of a key stored unwrapped before wrapping existed (wrapped at the next log start). */
export const LEGACY_LENGTH = KEY;

const aad = (subjectKey: string) => Buffer.from(`rampart audit data key v1\u0000${subjectKey}`, "utf8");

/** A fresh data key, unwrapped (to seal with) and wrapped (to store). */
export function newDataKey(wrapKey: KeyObject, subjectKey: string): { key: Buffer; stored: Buffer } {
  const key = randomBytes(KEY);
  return { key, stored: wrapDataKey(wrapKey, subjectKey, key) };
}

export function wrapDataKey(wrapKey: KeyObject, subjectKey: string, key: Uint8Array): Buffer {
  if (key.length !== KEY) throw new Error(`a data key is ${KEY} bytes, got ${key.length}`);
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv("aes-256-gcm", wrapKey, nonce);
  cipher.setAAD(aad(subjectKey));
  const body = Buffer.concat([cipher.update(key), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * The data key in a stored value: a wrapped key opened under `wrapKey`, or a legacy unwrapped one
 * as it is. Undefined when it does not open (another audit key file, or a corrupt or moved row):
 * callers then read details as still sealed, never as garbage.
 */
export function unwrapDataKey(
  wrapKey: KeyObject,
  subjectKey: string,
  stored: Uint8Array,
): Buffer | undefined {
  if (stored.length === LEGACY_LENGTH) return Buffer.from(stored);
  if (stored.length !== WRAPPED_LENGTH) return undefined;
  const raw = Buffer.from(stored);
  try {
    const decipher = createDecipheriv("aes-256-gcm", wrapKey, raw.subarray(0, NONCE));
    decipher.setAAD(aad(subjectKey));
    decipher.setAuthTag(raw.subarray(NONCE + KEY));
    return Buffer.concat([decipher.update(raw.subarray(NONCE, NONCE + KEY)), decipher.final()]);
  } catch {
    return undefined;
  }
}
