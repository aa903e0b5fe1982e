// Signed receipts: proof of what a request found and did, collection by collection, that a
// regulator or the subject can check with the public key alone. The signature is Ed25519 over
// the receipt's canonical JSON (RFC 8785) without the signature itself.
import { createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from "node:crypto";
import canonicalize from "canonicalize";
import { Invalid } from "../../../platform/errors.ts";
import type { DsrReceipt } from "./types.ts";

/** Signs bytes with an Ed25519 key; `keyId` tells verifiers which public key to use. */
export interface ReceiptSigner {
  keyId: string;
  sign(data: Buffer): Buffer;
}

/** A signer over an Ed25519 private key. */
export function ed25519Signer(privateKey: KeyObject, keyId: string): ReceiptSigner {
  if (privateKey.asymmetricKeyType !== "ed25519")
    throw new Invalid("the receipt signing key must be Ed25519");
  return { keyId, sign: (data) => cryptoSign(null, data, privateKey) };
}

export type UnsignedReceipt = Omit<DsrReceipt, "signature" | "keyId">;

/** The bytes a receipt's signature covers. */
export function receiptSigningBytes(r: Omit<DsrReceipt, "signature">): Buffer {
  const { requestId, kind, completedAt, collections, exportHash, keyId } = r;
  const body = { requestId, kind, completedAt, collections, keyId, ...(exportHash ? { exportHash } : {}) };
  return Buffer.from(canonicalize(body) ?? "", "utf8");
}

/** Adds the key id and the signature (base64url) to a receipt. */
export function signReceipt(r: UnsignedReceipt, signer: ReceiptSigner): DsrReceipt {
  const withKey = { ...r, keyId: signer.keyId };
  return { ...withKey, signature: signer.sign(receiptSigningBytes(withKey)).toString("base64url") };
}

/** Whether the receipt's signature verifies with `publicKey` (KeyObject or PEM); any change to it makes this false. */
export function verifyReceipt(receipt: DsrReceipt, publicKey: KeyObject | string): boolean {
  const key = typeof publicKey === "string" ? createPublicKey(publicKey) : publicKey;
  if (key.asymmetricKeyType !== "ed25519") return false;
  if (typeof receipt.signature !== "string" || !/^[A-Za-z0-9_-]+$/.test(receipt.signature)) return false;
  const { signature, ...rest } = receipt;
  try {
    return cryptoVerify(null, receiptSigningBytes(rest), key, Buffer.from(signature, "base64url"));
  } catch {
    return false;
  }
}
