// The data map as the rest of the privacy module sees it: systems hold datasets, datasets hold
// collections (tables, Redis key families, Mongo collections, Elasticsearch indices), collections
// hold fields tagged with data categories. The file format (Fides-compatible dataset YAML plus
// our systems, purposes and retention blocks) is parsed into this model by ./load.ts.
import type { MaskingStrategy } from "../masking.ts";

/** Where a thing was declared, for messages that point at the file. */
export interface SourceRef {
  file: string;
  line: number;
}

export interface DataMap {
  systems: System[];
  purposes: Purpose[];
  datasets: Dataset[];
  retention: RetentionPolicy[];
}

/** An application or service that processes personal data (a row of the records of processing). */
export interface System {
  key: string;
  name: string;
  description?: string;
  /** Purpose keys this system processes data for. */
  purposes: string[];
  /** Dataset keys this system stores data in. */
  datasets: string[];
  /** Processor (vendor) keys this system shares data with. */
  processors: string[];
  /** Where the data is stored and processed, e.g. "eu-west-1", "IN". */
  regions: string[];
  owner?: string;
  source?: SourceRef;
}

export const legalBases = [
  "consent",
  "contract",
  "legal_obligation",
  "vital_interests",
  "public_task",
  "legitimate_interests",
  // DPDP Act s.7: certain legitimate uses that need no consent.
  "legitimate_use",
] as const;
export type LegalBasis = (typeof legalBases)[number];

/** Why data is processed; the key is a data use in fideslang's vocabulary, e.g. "marketing.email". */
export interface Purpose {
  key: string;
  name: string;
  description?: string;
  legalBasis: LegalBasis;
  /** Data categories processed for this purpose (prefixes match, as in fideslang). */
  categories: string[];
  /** Data subject kinds, e.g. "customer", "employee". */
  subjects: string[];
  /** Whether processing for this purpose must pass a consent check. */
  requiresConsent: boolean;
  source?: SourceRef;
}

export interface Dataset {
  key: string;
  name: string;
  description?: string;
  collections: Collection[];
  source?: SourceRef;
}

/** How a collection is addressed in another collection's ordering lists: "dataset.collection". */
export type CollectionAddress = string;

export interface Collection {
  dataset: string;
  name: string;
  fields: Field[];
  /** Collections that must be processed before this one (access and erasure). */
  after: CollectionAddress[];
  /** Collections whose erasure must finish before this one's starts. */
  eraseAfter: CollectionAddress[];
  /** What erasure does to a matching row: mask its personal fields (default) or delete it. */
  erasure: "mask" | "delete";
  /** Store-specific addressing; absent means the collection's name is the table/collection/index. */
  store?: CollectionStore;
  /** Fides' skip_processing: requests pass this collection by (it stays in the map for references). */
  skipProcessing?: boolean;
  source?: SourceRef;
}

export type CollectionStore =
  | { kind: "sql"; table: string }
  | {
      kind: "redis";
      /** Key template; `{field}` is filled from this collection's fields, `*` matches (SCAN). */
      key: string;
      type: "hash" | "string" | "json";
    }
  | { kind: "mongodb"; collection: string }
  | { kind: "elasticsearch"; index: string };

export interface Field {
  name: string;
  /** Dotted path from the collection's root, e.g. "workplace_info.employer". */
  path: string;
  categories: string[];
  /** The identity type this field holds (email, phone_number, a custom one): a DSR starts here. */
  identity?: string;
  primaryKey: boolean;
  /** Fides data types: string, integer, float, boolean, object, object_id, string[], object[] … */
  dataType?: string;
  length?: number;
  references: FieldReference[];
  masking?: MaskingStrategy;
  /** Nested fields of an object or object[] field. */
  fields: Field[];
  source?: SourceRef;
}

export interface FieldReference {
  dataset: string;
  collection: string;
  /** Dotted path inside the referenced collection. */
  field: string;
  /** "from": the referenced field is processed first; "to": this one first; none: either way. */
  direction?: "from" | "to";
}

/** A retention rule (the gap fideslang#188 leaves): when data of these categories or purposes goes. */
export interface RetentionPolicy {
  key: string;
  description?: string;
  /** Categories (prefix match) and/or purposes the policy covers. */
  categories: string[];
  purposes: string[];
  /** ISO 8601 duration, e.g. "P3Y". */
  period: string;
  /** What starts the period. */
  trigger: "last_activity" | "created" | "purpose_fulfilled";
  /** The field holding the trigger time and the identity it belongs to, "dataset.collection.field". */
  timestampField: string;
  /** The identity field used to erase a subject whose period ran out, "dataset.collection.field". */
  identityField: string;
  action: "delete" | "mask";
  /** ISO 8601 duration of notice before erasure (DPDP: 48 hours), or none. */
  notice?: string;
  /** The field holding a contact address for the notice, "dataset.collection.field". */
  noticeField?: string;
  legalHold: boolean;
  source?: SourceRef;
}

/** Personal data categories start with "user."; fideslang's "system." and "account." are not about a person. */
export const isPersonalCategory = (category: string): boolean =>
  category === "user" || category.startsWith("user.");

/** Whether `category` is `wanted` or below it ("user.contact" covers "user.contact.email"). */
export const categoryCovers = (wanted: string, category: string): boolean =>
  category === wanted || category.startsWith(`${wanted}.`);

/** Every field of a collection, nested ones included, depth first. */
export function allFields(fields: readonly Field[]): Field[] {
  const out: Field[] = [];
  const walk = (fs: readonly Field[]) => {
    for (const f of fs) {
      out.push(f);
      walk(f.fields);
    }
  };
  walk(fields);
  return out;
}

export const collectionAddress = (c: Pick<Collection, "dataset" | "name">): CollectionAddress =>
  `${c.dataset}.${c.name}`;
