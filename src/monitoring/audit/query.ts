// Reading the audit log: filter by time range, type, actor and target; keyset pagination.
import type { KeyObject } from "node:crypto";
import type { Kysely } from "kysely";
import { Invalid } from "../../platform/errors.ts";
import type { EntryBody } from "./entry.ts";
import { ERASED, holderKeyOf, openPersonal } from "./personal.ts";
import type { AuditTables } from "./schema.ts";
import { openDataKeys, personalKinds } from "./subjects.ts";

export interface AuditQuery {
  from?: string | undefined;
  to?: string | undefined;
  type?: string | undefined;
  /** `kind:id`; a person's identifier is looked up as their subject key. */
  actor?: string | undefined;
  target?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface AuditPage {
  /** Personal details read `[sealed]`; `AuditLog.revealPersonal` opens them for callers allowed to. */
  entries: Array<EntryBody & { log: string; seq: number }>;
  /** Pass back as `cursor` for the next (older) page; absent on the last page. */
  next?: string;
}

type Cursor = [time: string, log: string, seq: number];

function decodeCursor(c: string): Cursor {
  try {
    const v = JSON.parse(Buffer.from(c, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 3 &&
      typeof v[0] === "string" &&
      typeof v[1] === "string" &&
      Number.isInteger(v[2])
    ) {
      return v as Cursor;
    }
  } catch {
    // fall through
  }
  throw new Invalid("malformed cursor", "cursor");
}

function instant(v: string, where: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new Invalid("expected an ISO 8601 time", where);
  return d;
}

/** Maps a `kind:id` reference to its stored form: a person's identifier becomes their subject key. */
export async function subjectRef(
  ref: string,
  subjectKey: (identifier: string) => Promise<string | undefined>,
): Promise<string> {
  const i = ref.indexOf(":");
  if (i < 1) throw new Invalid(`expected kind:id (such as user:alice@example.com), got '${ref}'`);
  const kind = ref.slice(0, i);
  if (!personalKinds.has(kind)) return ref;
  return `${kind}:${(await subjectKey(ref.slice(i + 1))) ?? "unknown"}`;
}

/**
 * Newest first. `resolveRef` maps a person's `kind:identifier` to the stored `kind:subjectKey`.
 * Personal details always read `[sealed]` here: opening them needs the audit key file.
 */
export async function queryEntries(
  db: Kysely<AuditTables>,
  q: AuditQuery,
  resolveRef: (ref: string) => Promise<string>,
): Promise<AuditPage> {
  const limit = q.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new Invalid("expected an integer from 1 to 1000", "limit");
  let qb = db.selectFrom("audit_entries").select(["log_id", "seq", "time", "body"]);
  if (q.from) qb = qb.where("time", ">=", instant(q.from, "from"));
  if (q.to) qb = qb.where("time", "<", instant(q.to, "to"));
  if (q.type) qb = qb.where("type", "=", q.type);
  if (q.actor) qb = qb.where("actor", "=", await resolveRef(q.actor));
  if (q.target) qb = qb.where("target", "=", await resolveRef(q.target));
  if (q.cursor) {
    const [t, log, seq] = decodeCursor(q.cursor);
    const time = instant(t, "cursor");
    qb = qb.where((eb) =>
      eb.or([
        eb("time", "<", time),
        eb.and([
          eb("time", "=", time),
          eb.or([eb("log_id", "<", log), eb.and([eb("log_id", "=", log), eb("seq", "<", seq)])]),
        ]),
      ]),
    );
  }
  const rows = await qb
    .orderBy("time", "desc")
    .orderBy("log_id", "desc")
    .orderBy("seq", "desc")
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const entries = page.map((r) => ({ ...(JSON.parse(r.body) as EntryBody), log: r.log_id, seq: r.seq }));
  for (const e of entries) if (e.personal) e.personal = sealedView(e.personal);
  return {
    entries,
    ...(rows.length > limit && last
      ? {
          next: Buffer.from(JSON.stringify([last.time.toISOString(), last.log_id, last.seq])).toString(
            "base64url",
          ),
        }
      : {}),
  };
}

/** The field names of sealed personal details, without their values. */
const sealedView = (p: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.keys(p).map((k) => [k, SEALED]));

export const SEALED = "[sealed]";

/** An entry as `queryEntries` returns it, located by log and sequence number. */
export interface RevealableEntry {
  log: string;
  seq: number;
  personal?: Record<string, string> | undefined;
}

/**
 * Replaces the `[sealed]` personal details of `entries` in place with their clear values, read
 * again from the stored entries: `[erased]` where the person's key is gone (or the entry expired),
 * `[sealed]` kept where the key does not open under `wrapKey`. Returns how many entries stayed sealed.
 */
export async function revealEntries(
  db: Kysely<AuditTables>,
  wrapKey: KeyObject,
  entries: readonly RevealableEntry[],
): Promise<number> {
  const wanted = entries.filter((e) => e.personal !== undefined);
  if (wanted.length === 0) return 0;
  const seqsByLog = new Map<string, number[]>();
  for (const e of wanted) seqsByLog.set(e.log, [...(seqsByLog.get(e.log) ?? []), e.seq]);
  const rows = await db
    .selectFrom("audit_entries")
    .select(["log_id", "seq", "body"])
    .where((eb) =>
      eb.or([...seqsByLog].map(([log, seqs]) => eb.and([eb("log_id", "=", log), eb("seq", "in", seqs)]))),
    )
    .execute();
  // The stored body, not the caller's copy, says whose key sealed what.
  const stored = new Map(rows.map((r) => [`${r.log_id}#${r.seq}`, JSON.parse(r.body) as EntryBody]));
  const holders = [...stored.values()].map((b) => holderKeyOf(b)).filter((k): k is string => k !== undefined);
  const keys = await openDataKeys(db, wrapKey, holders);
  let stillSealed = 0;
  for (const e of wanted) {
    const body = stored.get(`${e.log}#${Number(e.seq)}`);
    const sealed = body?.personal;
    if (!sealed) {
      e.personal = Object.fromEntries(Object.keys(e.personal ?? {}).map((k) => [k, ERASED]));
      continue;
    }
    const holder = holderKeyOf(body);
    if (holder !== undefined && keys.has(holder) && keys.get(holder) === undefined) {
      e.personal = sealedView(sealed);
      stillSealed++;
      continue;
    }
    e.personal = openPersonal(holder ? keys.get(holder) : undefined, holder, sealed);
  }
  return stillSealed;
}
