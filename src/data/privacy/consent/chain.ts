// The per-subject hash chain that makes a consent export a proof: each entry's hash covers its
// content and the previous entry's hash, so removing, reordering or editing one breaks every
// hash after it. Hashes are SHA-256 over the JCS (RFC 8785) canonical JSON of the entry.
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import type { ConsentChannel, ConsentState, Jurisdiction, ParentalConsent } from "./schema.ts";

/** The hash a subject's first entry chains from. */
export const GENESIS = "0".repeat(64);

/** One ledger entry as exported: everything its hash covers, plus the hash. */
export interface ConsentEntry {
  seq: number;
  subjectHash: string;
  purpose: string;
  state: ConsentState;
  notice: { id: string; hash: string };
  channel: ConsentChannel;
  jurisdiction: Jurisdiction;
  evidence: Record<string, unknown>;
  expiresAt: string | null;
  child: boolean;
  parental: ParentalConsent | null;
  subjectRef: string | null;
  recordedAt: string;
  /** Who recorded it: `user:corp:alice`, `api_key:…`. */
  recordedBy: string;
  prevHash: string;
  hash: string;
}

/** SHA-256 of the entry's canonical JSON without its own hash. */
export function entryHash(e: Omit<ConsentEntry, "hash">): string {
  const { hash: _ignored, ...body } = e as ConsentEntry;
  return createHash("sha256")
    .update(canonicalize(body) as string)
    .digest("hex");
}

export interface ConsentProof {
  format: "rampart.consent-proof/1";
  algorithm: "sha256-jcs-chain";
  /** The subject as the ledger knows it: the keyed HMAC of the app's id. */
  subjectHash: string;
  subjectRef: string | null;
  generatedAt: string;
  /** The last entry's hash: compare with a copy kept elsewhere to detect a truncated chain. */
  head: string;
  entries: ConsentEntry[];
}

export type ProofVerification =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; brokenAt: number; reason: string };

/** Recomputes the chain of `proof`; says where and why it breaks. */
export function verifyConsentProof(proof: ConsentProof): ProofVerification {
  let prev = GENESIS;
  for (const [i, e] of proof.entries.entries()) {
    const fail = (reason: string): ProofVerification => ({
      ok: false,
      entries: proof.entries.length,
      brokenAt: e.seq,
      reason,
    });
    if (e.seq !== i + 1) return fail(`entry ${i + 1} has seq ${e.seq}: an entry is missing or out of order`);
    if (e.subjectHash !== proof.subjectHash) return fail(`entry ${e.seq} belongs to another subject`);
    if (e.prevHash !== prev) return fail(`entry ${e.seq} does not chain from the entry before it`);
    if (entryHash(e) !== e.hash)
      return fail(`entry ${e.seq} was altered: its hash does not match its content`);
    prev = e.hash;
  }
  if (prev !== proof.head && proof.entries.length > 0)
    return {
      ok: false,
      entries: proof.entries.length,
      brokenAt: proof.entries.length,
      reason: "the chain does not end at the stated head",
    };
  return { ok: true, entries: proof.entries.length, head: prev };
}
