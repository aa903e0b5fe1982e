// The data map file format: Fides dataset YAML (`dataset:`) as Fides writes it, plus our own
// top-level `system:`, `purpose:` and `retention:` lists and a per-collection `rampart:` block.
// Objects Fides owns strip keys we do not use (Fides files carry tags, retention notes, UI hints);
// objects we own are strict, so a typo in one of our keys is an error rather than a silent no-op.
import { z } from "zod";
import { legalBases } from "./model.ts";
import { maskingStrategyNames } from "../masking.ts";

/** Our `rampart:` block is a collection's; anywhere else it would be silently dropped, so refuse it. */
const misplacedRampart = z
  .custom<never>(() => false, { message: "the rampart block belongs on a collection" })
  .optional();

/** Fides' FidesKey, minus dots: keys are joined with dots into "dataset.collection.field". */
const fidesKey = z
  .string()
  .regex(/^[A-Za-z0-9_<>-]+$/, "expected letters, digits, '_', '-' (no dots or spaces)");
/** A table, collection or field name: anything but dots (they separate paths) and blanks. */
const segmentName = z
  .string()
  .min(1)
  .regex(/^[^.\s]+$/, "expected a name without dots or spaces");
const stringList = z.array(z.string().min(1));

const maskingOverrideSchema = z.object({
  strategy: z.enum(maskingStrategyNames),
  configuration: z
    .object({
      rewrite_value: z.string().optional(),
      length: z.number().int().positive().optional(),
      algorithm: z.enum(["SHA-256", "SHA-512"]).optional(),
    })
    .nullish(),
});
export type FidesMaskingOverride = z.infer<typeof maskingOverrideSchema>;

const referenceSchema = z.object({
  dataset: fidesKey,
  field: z
    .string()
    .regex(/^[^.\s]+\.[^\s]+$/, "expected 'collection.field' (nested fields: 'collection.a.b')"),
  direction: z.enum(["from", "to"]).nullish(),
});

const fieldMetaSchema = z.object({
  identity: z.string().min(1).nullish(),
  primary_key: z.boolean().nullish(),
  data_type: z.string().min(1).nullish(),
  length: z.number().int().positive().nullish(),
  references: z.array(referenceSchema).nullish(),
  masking_strategy_override: maskingOverrideSchema.nullish(),
  return_all_elements: z.boolean().nullish(),
  read_only: z.boolean().nullish(),
});

export interface FidesField {
  name: string;
  description?: string | null | undefined;
  data_categories?: string[] | null | undefined;
  fides_meta?: z.infer<typeof fieldMetaSchema> | null | undefined;
  fields?: FidesField[] | null | undefined;
}

export const fidesFieldSchema: z.ZodType<FidesField> = z.lazy(() =>
  z.object({
    name: segmentName,
    description: z.string().nullish(),
    data_categories: stringList.nullish(),
    fides_meta: fieldMetaSchema.nullish(),
    fields: z.array(fidesFieldSchema).nullish(),
    rampart: misplacedRampart,
  }),
);

/** Where a collection lives when its name is not the table / Mongo collection / index name. */
export const rampartCollectionSchema = z
  .strictObject({
    erasure: z.enum(["mask", "delete"]).optional(),
    table: z.string().min(1).optional(),
    redis: z
      .strictObject({
        key: z.string().min(1),
        type: z.enum(["hash", "string", "json"]).default("hash"),
      })
      .optional(),
    mongodb: z.strictObject({ collection: z.string().min(1) }).optional(),
    elasticsearch: z.strictObject({ index: z.string().min(1) }).optional(),
  })
  .refine((r) => [r.table, r.redis, r.mongodb, r.elasticsearch].filter((x) => x !== undefined).length <= 1, {
    message: "give at most one of table, redis, mongodb, elasticsearch",
  });

const collectionAddressList = z.array(
  z.string().regex(/^[^.\s]+\.[^.\s]+$/, "expected 'dataset.collection'"),
);

export const fidesCollectionSchema = z.object({
  name: segmentName,
  description: z.string().nullish(),
  fields: z.array(fidesFieldSchema),
  fides_meta: z
    .object({
      after: collectionAddressList.nullish(),
      erase_after: collectionAddressList.nullish(),
      skip_processing: z.boolean().nullish(),
    })
    .nullish(),
  rampart: rampartCollectionSchema.optional(),
});
export type FidesCollection = z.infer<typeof fidesCollectionSchema>;

export const fidesDatasetSchema = z.object({
  fides_key: fidesKey,
  name: z.string().nullish(),
  description: z.string().nullish(),
  collections: z.array(fidesCollectionSchema),
  rampart: misplacedRampart,
});
export type FidesDataset = z.infer<typeof fidesDatasetSchema>;

export const systemSchema = z.strictObject({
  fides_key: fidesKey,
  name: z.string().min(1),
  description: z.string().optional(),
  /** Purpose (data use) keys. */
  purposes: stringList.default([]),
  datasets: stringList.default([]),
  /** Processors (vendors) the system shares data with; free keys for now. */
  processors: stringList.default([]),
  /** Storage and processing regions ("eu-west-1", "IN", "ap-south-1"). */
  regions: stringList.default([]),
  owner: z.string().optional(),
});

export const purposeSchema = z.strictObject({
  /** A data use key in fideslang's vocabulary: "essential.service", "marketing.email". */
  fides_key: z.string().regex(/^[A-Za-z0-9_<>-]+(\.[A-Za-z0-9_<>-]+)*$/, "expected a dotted data use key"),
  name: z.string().min(1),
  description: z.string().optional(),
  legal_basis: z.enum(legalBases),
  data_categories: stringList.default([]),
  data_subjects: stringList.default([]),
  /** Default: true when the legal basis is consent. */
  requires_consent: z.boolean().optional(),
});

/** "dataset.collection.field" (nested: "dataset.collection.a.b"). */
const fieldAddress = z.string().regex(/^[^.\s]+\.[^.\s]+\.[^\s]+$/, "expected 'dataset.collection.field'");

export const retentionSchema = z.strictObject({
  key: fidesKey,
  description: z.string().optional(),
  categories: stringList.default([]),
  purposes: stringList.default([]),
  /** ISO 8601 duration: P3Y, P90D, PT48H. */
  period: z.string().min(1),
  trigger: z.enum(["last_activity", "created", "purpose_fulfilled"]).default("last_activity"),
  timestamp_field: fieldAddress,
  identity_field: fieldAddress,
  action: z.enum(["delete", "mask"]).default("delete"),
  notice: z.string().min(1).optional(),
  notice_field: fieldAddress.optional(),
  legal_hold: z.boolean().default(false),
});

/** Top-level Fides resource lists we do not use; tolerated so a whole Fides repo can be pointed at. */
const fidesOtherResources = [
  "organization",
  "data_category",
  "data_use",
  "data_subject",
  "data_qualifier",
  "policy",
  "registry",
  "evaluation",
] as const;

export const dataMapFileSchema = z.strictObject({
  dataset: z.array(fidesDatasetSchema).optional(),
  system: z.array(systemSchema).optional(),
  purpose: z.array(purposeSchema).optional(),
  retention: z.array(retentionSchema).optional(),
  ...Object.fromEntries(fidesOtherResources.map((k) => [k, z.unknown().optional()])),
});
export type DataMapFile = z.infer<typeof dataMapFileSchema>;
