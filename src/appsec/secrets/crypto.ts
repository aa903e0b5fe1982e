// Envelope encryption of one secret version: a fresh data key (DEK) seals the value map, a KEK seals
// the DEK. Both seals bind the path and version (and the DEK's the KEK version) as AAD, so bytes
// moved to another path or version, or altered in any way, fail to open.
import { createSecretKey, type KeyObject, randomBytes } from "node:crypto";
import { RampartError } from "../../platform/errors.ts";
import { gcmOpen, gcmSeal } from "./keys/local.ts";

/** A stored version failed authentication: tampered, moved, or under an unknown key. Never carries values. */
export class SecretIntegrityError extends RampartError {
  constructor(path: string, version: number, what: string) {
    super(
      "integrity",
      500,
      `version ${version} of ${path} failed its integrity check: ${what} was altered, moved from another path or version, or sealed under another key`,
    );
  }
}

export interface SealedVersion {
  wrappedDek: Buffer;
  ciphertext: Buffer;
}

// A cipher keyed by a KeyObject costs a fifth of one keyed by a Buffer in Node 24 (the Buffer is
// imported anew on every call); the raw bytes are wiped right after.
const dataKey = (dek: Buffer): KeyObject => createSecretKey(dek);

const valueAad = (path: string, version: number) => `rampart:secret|${path}|${version}`;
const dekAad = (path: string, version: number, kekVersion: number) =>
  `rampart:dek|${path}|${version}|${kekVersion}`;

/** Seals `data` as version `version` of `path` under a fresh data key wrapped by KEK `kekVersion`. */
export function sealVersion(
  kek: KeyObject,
  kekVersion: number,
  path: string,
  version: number,
  data: Record<string, string>,
): SealedVersion {
  const dek = randomBytes(32);
  const ciphertext = gcmSeal(
    dataKey(dek),
    Buffer.from(JSON.stringify(data), "utf8"),
    valueAad(path, version),
  );
  const wrappedDek = gcmSeal(kek, dek, dekAad(path, version, kekVersion));
  dek.fill(0);
  return { wrappedDek, ciphertext };
}

/** Unwraps a version's data key; throws SecretIntegrityError on any mismatch. */
export function openDek(
  kek: KeyObject,
  kekVersion: number,
  path: string,
  version: number,
  wrappedDek: Buffer,
): Buffer {
  const dek = gcmOpen(kek, wrappedDek, dekAad(path, version, kekVersion));
  if (!dek || dek.length !== 32) throw new SecretIntegrityError(path, version, "its data key");
  return dek;
}

/** Re-wraps a data key under another KEK without touching the value's ciphertext. */
export function rewrapDek(
  from: { kek: KeyObject; version: number },
  to: { kek: KeyObject; version: number },
  path: string,
  version: number,
  wrappedDek: Buffer,
): Buffer {
  const dek = openDek(from.kek, from.version, path, version, wrappedDek);
  const out = gcmSeal(to.kek, dek, dekAad(path, version, to.version));
  dek.fill(0);
  return out;
}

/** Opens a version; throws SecretIntegrityError naming path and version (never the value) on any mismatch. */
export function openVersion(
  kek: KeyObject,
  kekVersion: number,
  path: string,
  version: number,
  sealed: SealedVersion,
): Record<string, string> {
  const dek = openDek(kek, kekVersion, path, version, sealed.wrappedDek);
  const plain = gcmOpen(dataKey(dek), sealed.ciphertext, valueAad(path, version));
  dek.fill(0);
  if (!plain) throw new SecretIntegrityError(path, version, "its ciphertext");
  try {
    return JSON.parse(plain.toString("utf8")) as Record<string, string>;
  } finally {
    plain.fill(0);
  }
}
