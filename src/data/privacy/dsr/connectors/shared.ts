// What every connector needs from the data map: the mapped top-level fields, the primary key,
// where a collection lives in its store, and errors that never carry credentials.
import canonicalize from "canonicalize";
import { Invalid, RampartError, Unavailable } from "../../../../platform/errors.ts";
import { collectionAddress, type Collection, type CollectionStore } from "../../map/model.ts";
import type { StoreType } from "../types.ts";

/** "dataset.collection", the location every connector error names. */
export const where = (c: Collection): string => collectionAddress(c);

/** Top-level field names the map declares for a collection, in map order, without duplicates. */
export function mappedTopLevel(collection: Collection): string[] {
  const names = new Set<string>();
  for (const f of collection.fields) names.add(topOf(f.path || f.name));
  return [...names];
}

export const topOf = (path: string): string => path.split(".")[0] ?? path;

/** Top-level field names marked as primary key (SQL rows are updated and deleted by these). */
export function primaryKeyOf(collection: Collection): string[] {
  const pk = collection.fields.filter((f) => f.primaryKey).map((f) => topOf(f.path || f.name));
  if (pk.length === 0)
    throw new Invalid("no field is marked primary_key, so rows cannot be addressed", where(collection));
  return pk;
}

/** The store addressing of a collection of the given kind; absent means the collection's name. */
export function storeAddress<K extends CollectionStore["kind"]>(
  collection: Collection,
  kind: K,
): Extract<CollectionStore, { kind: K }> | undefined {
  const s = collection.store;
  if (!s) return undefined;
  if (s.kind !== kind)
    throw new Invalid(`store kind '${s.kind}' cannot be reached by a ${kind} connection`, where(collection));
  return s as Extract<CollectionStore, { kind: K }>;
}

/** A SQL row's id: canonical JSON of its primary key values, keyed by column. */
export function sqlRowId(pk: readonly string[], row: Record<string, unknown>): string {
  const key: Record<string, unknown> = {};
  for (const col of pk) key[col] = jsonSafe(row[col]);
  return canonicalize(key) ?? "{}";
}

/** Primary key values back out of a row id, refusing ids that do not name exactly the key columns. */
export function parseSqlRowId(collection: Collection, pk: readonly string[], id: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(id);
  } catch {
    throw new Invalid("row id is not JSON", where(collection));
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
    throw new Invalid("row id is not an object of primary key values", where(collection));
  const obj = parsed as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length !== pk.length || !pk.every((k) => Object.hasOwn(obj, k)))
    throw new Invalid(`row id does not name the primary key (${pk.join(", ")})`, where(collection));
  return pk.map((k) => obj[k]);
}

/** Values a JSON id can hold: dates as ISO strings, bigints as strings, buffers as hex. */
function jsonSafe(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "bigint") return v.toString();
  if (Buffer.isBuffer(v)) return v.toString("hex");
  return v;
}

/** The value at a dotted path; through arrays it collects every element's value. */
export function valueAt(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split(".")) {
    if (Array.isArray(cur)) cur = cur.flatMap((el) => asList(valueAt(el, part)));
    else if (cur && typeof cur === "object") cur = (cur as Record<string, unknown>)[part];
    else return undefined;
  }
  return cur;
}

const asList = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * A timestamp as a Date: Date, ISO string, or epoch number (below 1e11 taken as seconds, since
 * 1e11 ms is 1973 and 1e11 s is the year 5138).
 */
export function asTime(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v === "number" && Number.isFinite(v)) return new Date(v < 1e11 ? v * 1000 : v);
  if (typeof v === "string" && v !== "") {
    const n = Number(v);
    const d = Number.isFinite(n) ? new Date(n < 1e11 ? n * 1000 : n) : new Date(v);
    return Number.isNaN(d.getTime()) ? undefined : d;
  }
  return undefined;
}

/** The connection URL without user, password or query (host, port and path only), for messages. */
export function safeLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparseable url)";
  }
}

/** Credentials that may appear in a driver's message: the URL's password and user and secret options. */
export function secretsOf(url: string, options?: Record<string, string>): string[] {
  const out: string[] = [];
  try {
    const u = new URL(url);
    if (u.password) out.push(u.password, decodeURIComponent(u.password));
  } catch {
    // an unparseable URL is reported by the driver; nothing to scrub from it but itself
    out.push(url);
  }
  for (const [k, v] of Object.entries(options ?? {}))
    if (/key|pass|secret|token|auth|cred/i.test(k) && v.length > 0) out.push(v);
  return out.filter((s) => s.length > 0);
}

/** A message with every known secret and any URL userinfo replaced. */
export function scrub(message: string, secrets: readonly string[]): string {
  let m = message.replace(/\/\/[^/@\s]*@/g, "//***@");
  for (const s of secrets) m = m.split(s).join("***");
  return m;
}

/** A driver message with every quoted part (where drivers put values) replaced. */
export const withoutQuoted = (message: string): string =>
  message.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '"…"');

/** Error codes of Node sockets and drivers that mean the store cannot be reached. */
const unreachableCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "PROTOCOL_CONNECTION_LOST",
  "ER_ACCESS_DENIED_ERROR",
  "ER_DBACCESS_DENIED_ERROR",
  "28P01", // pg invalid_password
  "28000", // pg invalid_authorization_specification
  "3D000", // pg database does not exist
  "57P01", // pg admin_shutdown
  "57P03", // pg cannot_connect_now
]);

/** Whether a driver error means "cannot reach / log in to the store" rather than a bad statement. */
export function isUnreachable(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown; errors?: unknown[]; message?: unknown } | undefined;
  if (!e || typeof e !== "object") return false;
  if (typeof e.code === "string" && (unreachableCodes.has(e.code) || e.code.startsWith("08"))) return true;
  if (Array.isArray(e.errors) && e.errors.some(isUnreachable)) return true; // AggregateError of sockets
  if (
    typeof e.name === "string" &&
    /MongoServerSelectionError|MongoNetwork|ConnectionError|TimeoutError|NoLivingConnections|MaxRetriesPerRequestError/.test(
      e.name,
    )
  )
    return true;
  return (
    typeof e.message === "string" &&
    /connect ECONNREFUSED|Connection is closed|connection timeout|Connection terminated/i.test(e.message)
  );
}

/** Driver error codes for a table, schema or column the map names but the store lacks. */
const missingCodes = new Set([
  "42P01", // pg undefined_table
  "42703", // pg undefined_column
  "3F000", // pg invalid_schema_name
  "ER_NO_SUCH_TABLE",
  "ER_BAD_FIELD_ERROR",
  "ER_BAD_DB_ERROR",
]);

/** Context a connector carries to build its errors. */
export interface ErrorContext {
  type: StoreType;
  url: string;
  secrets: string[];
}

/**
 * Turns a driver error into Unavailable (store down, login refused) or an Error naming the
 * collection; the message never holds the URL's credentials, and RampartErrors pass through.
 */
export function storeError(ctx: ErrorContext, err: unknown, collection?: Collection): Error {
  if (err instanceof RampartError) return err;
  const raw = scrub(err instanceof Error ? err.message : String(err), ctx.secrets);
  const at = collection ? ` (${where(collection)})` : "";
  if (isUnreachable(err))
    return new Unavailable(`${ctx.type} store at ${safeLocation(ctx.url)} is unavailable${at}: ${raw}`);
  const code = (err as { code?: unknown } | undefined)?.code;
  if (collection && typeof code === "string" && missingCodes.has(code))
    return new Invalid(`${ctx.type} store at ${safeLocation(ctx.url)}: ${raw}`, where(collection));
  // Other statement errors may quote the offending value (pg: invalid input syntax for type
  // integer: "ana@example.com"), and values are personal data: quoted parts are withheld.
  const codeNote = typeof code === "string" || typeof code === "number" ? ` [${code}]` : "";
  return new Error(
    `${ctx.type} store at ${safeLocation(ctx.url)} failed${at}${codeNote}: ${withoutQuoted(raw)}`,
  );
}

/** Runs a store call, mapping its failure through storeError. */
export async function guarded<T>(
  ctx: ErrorContext,
  collection: Collection | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storeError(ctx, err, collection);
  }
}

/** Splits "schema.table" (the first dot) into its parts; no dot means the connection's default schema. */
export function splitQualified(name: string): { schema?: string; table: string } {
  const dot = name.indexOf(".");
  return dot > 0 ? { schema: name.slice(0, dot), table: name.slice(dot + 1) } : { table: name };
}

/** The field of the map at a dotted path, if declared. */
export function fieldAt(collection: Collection, path: string) {
  let fields = collection.fields;
  let found;
  for (const part of path.split(".")) {
    found = fields.find((f) => f.name === part);
    if (!found) return undefined;
    fields = found.fields;
  }
  return found;
}

/** Splits items into chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
