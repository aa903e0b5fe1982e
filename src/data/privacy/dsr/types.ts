// The contracts between the data-subject-request engine and the stores it reaches: a connector
// per store type (PostgreSQL, MySQL/MariaDB, Redis, MongoDB, Elasticsearch) with the same few
// operations, so the planner and executor never know which store they talk to.
import type { Collection, DataMap } from "../map/model.ts";
import type { MaskingStrategy } from "../masking.ts";

export const storeTypes = ["postgres", "mysql", "redis", "mongodb", "elasticsearch"] as const;
export type StoreType = (typeof storeTypes)[number];

/** A row (record, hash, document) found for a subject. */
export interface FoundRow {
  /**
   * The store's own locator of the row, stable and JSON-safe, so a resumed run can update or
   * delete exactly this row: SQL primary key values as JSON, the Redis key, the Mongo _id as
   * extended JSON, the Elasticsearch _id.
   */
  id: string;
  /** The row's values, nested as the store holds them (documents stay documents). */
  values: Record<string, unknown>;
}

/** New values for one row, keyed by top-level field name (a nested field's new value arrives as its whole top-level value). */
export interface RowChange {
  row: FoundRow;
  set: Record<string, unknown>;
}

export interface Connector {
  readonly type: StoreType;
  /** Rows of `collection` whose field at `path` equals one of `values` (scalar equality; arrays: any element). */
  find(collection: Collection, path: string, values: readonly unknown[]): Promise<FoundRow[]>;
  /** Up to `limit` rows whose timestamp at `path` is before `before` (retention); oldest first. */
  findBefore(collection: Collection, path: string, before: Date, limit: number): Promise<FoundRow[]>;
  /** Deletes the rows; rows already gone are not an error (runs resume). Returns how many were deleted. */
  delete(collection: Collection, rows: readonly FoundRow[]): Promise<number>;
  /** Writes the new values; idempotent. Returns how many rows were changed. */
  update(collection: Collection, changes: readonly RowChange[]): Promise<number>;
  /** Problems that would stop a request: store unreachable, table/index missing, mapped column missing. */
  check(collections: readonly Collection[]): Promise<string[]>;
  close(): Promise<void>;
}

/** Connection settings of one store (config: privacy.connections.<name>). */
export interface ConnectionConfig {
  type: StoreType;
  /** postgres://…, mysql://…, redis://…, mongodb://…, http(s)://… for Elasticsearch. */
  url: string;
  /** Dataset keys of the data map stored behind this connection. */
  datasets: string[];
  /** Elasticsearch API key or basic auth, Mongo options… kept out of logs. */
  options?: Record<string, string>;
}

export const requestKinds = ["access", "erasure", "rectification"] as const;
export type RequestKind = (typeof requestKinds)[number];

/** Which fields an erasure touches and how. */
export interface ErasurePolicy {
  /** Categories (prefix match) to erase; default every personal category ("user"). */
  categories: string[];
  /** Strategy for fields without a masking_strategy_override; default hmac. */
  masking: MaskingStrategy;
  /** Overrides every collection's own erasure mode (retention policies say delete or mask). */
  force?: "delete" | "mask";
}

export interface Correction {
  /** "dataset.collection.field" (dotted path for nested fields). */
  field: string;
  value: unknown;
}

export interface DsrRequest {
  /** Stable id: running the same id again resumes or returns the finished result. */
  id: string;
  kind: RequestKind;
  /** Identity type → value, e.g. { email: "ana@example.com" }. */
  identities: Record<string, string>;
  policy?: Partial<ErasurePolicy>;
  corrections?: Correction[];
}

/** Per-collection outcome, the substance of a receipt. */
export interface CollectionOutcome {
  collection: string;
  found: number;
  deleted: number;
  masked: number;
  corrected: number;
  /** SHA-256 over the canonical JSON of the found rows' personal fields (what was there). */
  foundHash: string;
}

export interface DsrReceipt {
  requestId: string;
  kind: RequestKind;
  completedAt: string;
  collections: CollectionOutcome[];
  /** SHA-256 of the access export (access requests). */
  exportHash?: string;
  /** Ed25519 over the receipt's canonical JSON without the signature. */
  signature: string;
  keyId: string;
}

export interface DsrEngine {
  /** Plans without touching data; throws Invalid (listing every unreachable collection) if the graph cannot be walked. */
  plan(kind: RequestKind, identityTypes: readonly string[]): DsrPlan;
  /** Runs (or resumes) a request to its end; idempotent by id. */
  run(request: DsrRequest): Promise<DsrReceipt>;
  /** Resumes every request left unfinished by a crash. */
  resumePending(): Promise<number>;
  /** The access export of a finished access request. */
  exportOf(
    requestId: string,
    format: "json" | "csv" | "html",
  ): Promise<{ contentType: string; body: string }>;
  receiptOf(requestId: string): Promise<DsrReceipt | undefined>;
}

export interface DsrPlan {
  kind: RequestKind;
  /** Collections in the order access visits them ("dataset.collection"). */
  order: string[];
  /** Collections that hold personal data but cannot be reached from the given identities. */
  unreachable: string[];
}

export type MapSource = () => DataMap;
