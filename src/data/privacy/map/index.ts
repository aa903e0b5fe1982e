// The data map as code (privacy layer 4): load and check Fides-compatible map files, render them
// for people (Markdown, Mermaid, JSON), derive the records of processing, and draft a dataset from
// a live SQL schema.
export * from "./model.ts";
export {
  type DbColumn,
  type DbForeignKey,
  type DbSchema,
  type DbTable,
  bootstrapDataset,
  type ProposeOptions,
  proposeDataset,
  readDbSchema,
  readMysqlSchema,
  readPostgresSchema,
} from "./bootstrap.ts";
export {
  dataMapFileSchema,
  fidesDatasetSchema,
  purposeSchema,
  retentionSchema,
  systemSchema,
} from "./format.ts";
export { dataMapFiles, loadDataMap, parseDataMap, parseDataMapSources } from "./load.ts";
export { purposesOf, renderJson, renderMarkdown, renderMermaid, retentionOf } from "./render.ts";
export {
  buildRopa,
  countryOfRegion,
  isHomeRegion,
  renderRopaCsv,
  renderRopaJson,
  renderRopaMarkdown,
  type RopaOptions,
  type RopaRecord,
  type RopaTransfer,
} from "./ropa.ts";
export { categoryKeys, dataCategories, isKnownCategory } from "./taxonomy.ts";
export {
  dataMapProblems,
  indexDataMap,
  type MapIndex,
  storeTypesFrom,
  type ValidateOptions,
  validateDataMap,
} from "./validate.ts";
