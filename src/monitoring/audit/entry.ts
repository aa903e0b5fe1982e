// How an event becomes a log entry: canonical JSON (RFC 8785), an RFC 6962 leaf hash over it,
// and a keyed MAC over the leaf hash that pinpoints any row changed in the database.
import { createHmac, type KeyObject, timingSafeEqual } from "node:crypto";
import canonicalize from "canonicalize";
import type { SecurityEvent } from "../../platform/events/index.ts";
import { leafHash } from "./merkle.ts";

/** What the log commits to. `seq` and `log` are inside, so a moved row no longer matches its MAC. */
export interface EntryBody {
  v: 1;
  log: string;
  seq: number;
  id: string;
  time: string;
  type: string;
  severity: string;
  actor: string;
  target?: string;
  outcome: string;
  data: Record<string, unknown>;
  hashed?: Record<string, string>;
  /** Personal details, each sealed under its person's data key (see personal.ts); never in clear. */
  personal?: Record<string, string>;
  source?: string;
}

export interface EncodedEntry {
  body: EntryBody;
  text: string;
  leaf: Buffer;
  mac: Buffer;
}

/** `kind:id` form used in columns and bodies. */
export function refString(ref: { kind: string; id: string }): string {
  return `${ref.kind}:${ref.id}`;
}

export function encodeEntry(body: EntryBody, macKey: KeyObject): EncodedEntry {
  const text = canonicalize(body);
  if (text === undefined) throw new Error("audit entry is not serialisable");
  const leaf = leafHash(Buffer.from(text, "utf8"));
  return { body, text, leaf, mac: entryMac(macKey, leaf) };
}

function entryMac(macKey: KeyObject, leaf: Buffer): Buffer {
  return createHmac("sha256", macKey).update(leaf).digest();
}

export function macMatches(macKey: KeyObject, leaf: Buffer, mac: Uint8Array): boolean {
  const expected = entryMac(macKey, leaf);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}

/** Keyed hash of a sensitive value, in the form stored in entries (`hmac-sha256:<hex>`). */
export function hashValue(valueKey: KeyObject, value: string): string {
  return `hmac-sha256:${createHmac("sha256", valueKey).update(value, "utf8").digest("hex")}`;
}

/**
 * Builds the body for an event; `actor`/`target` are already pseudonymised refs and `personal`
 * the event's personal details already sealed (the event's own clear values are never used).
 */
export function bodyFor(
  e: SecurityEvent,
  log: string,
  seq: number,
  actor: string,
  target: string | undefined,
  valueKey: KeyObject,
  personal?: Record<string, string>,
): EntryBody {
  const body: EntryBody = {
    v: 1,
    log,
    seq,
    id: e.id,
    time: new Date(e.time).toISOString(),
    type: e.type,
    severity: e.severity,
    actor,
    outcome: e.outcome,
    data: e.data,
  };
  if (target !== undefined) body.target = target;
  if (e.sensitive) {
    body.hashed = {};
    for (const [k, v] of Object.entries(e.sensitive)) body.hashed[k] = hashValue(valueKey, v);
  }
  if (personal && Object.keys(personal).length > 0) body.personal = personal;
  if (e.source) body.source = e.source;
  return body;
}
