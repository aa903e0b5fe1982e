// Data-subject requests (access, erasure, rectification) over the data map's stores, with
// resumable per-collection tasks, portable exports and signed receipts.
export {
  createDsrEngine,
  DEFAULT_MAX_ROWS_PER_COLLECTION,
  type DsrEngineDeps,
  type DsrEngineService,
  type DsrPlanSummary,
} from "./engine.ts";
export {
  type AccessExport,
  categoryInWords,
  exportContentTypes,
  exportCsv,
  type ExportFormat,
  exportHtml,
  exportJson,
  type ExportRow,
  renderExport,
} from "./export.ts";
export { type GraphPlan, holdsCategories, type PlannedNode, planRequest } from "./graph.ts";
export {
  ed25519Signer,
  type ReceiptSigner,
  receiptSigningBytes,
  signReceipt,
  type UnsignedReceipt,
  verifyReceipt,
} from "./receipt.ts";
export {
  type DsrConfig,
  dsrConfigSchema,
  dsrMigrations,
  dsrRequestSchema,
  type DsrTables,
  type RequestStatus,
  requestStatuses,
} from "./schema.ts";
export * from "./types.ts";
