// Crypto-shredding of personal details in audit entries: each value is sealed with AES-256-GCM
// under the data key of the person it is about (a row of audit_subjects). The entry, its MAC and
// the Merkle tree hold only the sealed form; deleting the person's key makes the values unreadable
// while every entry, proof and signed checkpoint still verifies.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { EventRef } from "../../platform/events/index.ts";
import { personalKinds } from "./subjects.ts";

/** What an erased (or never storable) personal value reads back as. */
export const ERASED = "[erased]";
/** What a sealed value that no longer opens under its key reads back as (tampered or corrupt). */
export const UNREADABLE = "[unreadable]";

const PREFIX = "aes-256-gcm:";
const NONCE = 12;
const TAG = 16;

/** The person whose key seals an event's personal details: the target if a person, else the actor. */
export function holderOf(e: { actor: EventRef; target?: EventRef | undefined }): EventRef | undefined {
  if (e.target && personalKinds.has(e.target.kind)) return e.target;
  return personalKinds.has(e.actor.kind) ? e.actor : undefined;
}

/** The subject key in a stored body's `kind:subjectKey` refs, by the same rule as `holderOf`. */
export function holderKeyOf(body: { actor: string; target?: string | undefined }): string | undefined {
  for (const ref of [body.target, body.actor]) {
    if (ref === undefined) continue;
    const i = ref.indexOf(":");
    if (i > 0 && personalKinds.has(ref.slice(0, i))) return ref.slice(i + 1);
  }
  return undefined;
}

// The subject key and field name are bound in, so a sealed value cannot be moved to another
// person's entry or another field and still open.
const aad = (subjectKey: string, field: string) =>
  Buffer.from(`rampart audit personal v1\u0000${subjectKey}\u0000${field}`, "utf8");

export function sealPersonal(
  dataKey: Uint8Array,
  subjectKey: string,
  values: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(values)) {
    const nonce = randomBytes(NONCE);
    const cipher = createCipheriv("aes-256-gcm", dataKey, nonce);
    cipher.setAAD(aad(subjectKey, field));
    const body = Buffer.concat([cipher.update(value, "utf8"), cipher.final()]);
    out[field] = PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString("base64url");
  }
  return out;
}

/** Opens sealed values; without a key (the person was erased) every value reads as `[erased]`. */
export function openPersonal(
  dataKey: Uint8Array | undefined,
  subjectKey: string | undefined,
  sealed: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(sealed)) {
    if (!value.startsWith(PREFIX)) out[field] = value === ERASED ? ERASED : UNREADABLE;
    else if (!dataKey || subjectKey === undefined) out[field] = ERASED;
    else out[field] = openOne(dataKey, subjectKey, field, value.slice(PREFIX.length));
  }
  return out;
}

function openOne(dataKey: Uint8Array, subjectKey: string, field: string, token: string): string {
  const raw = Buffer.from(token, "base64url");
  if (raw.length < NONCE + TAG) return UNREADABLE;
  try {
    const decipher = createDecipheriv("aes-256-gcm", dataKey, raw.subarray(0, NONCE));
    decipher.setAAD(aad(subjectKey, field));
    decipher.setAuthTag(raw.subarray(raw.length - TAG));
    return Buffer.concat([decipher.update(raw.subarray(NONCE, raw.length - TAG)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    return UNREADABLE;
  }
}

/** Every field marked erased: for details that have no person to be sealed for. */
export const erasedAll = (values: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.keys(values).map((k) => [k, ERASED]));
