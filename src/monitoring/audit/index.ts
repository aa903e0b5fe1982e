// Tamper-evident audit log: public API.
export { type BundleManifest, type BundleResult, exportBundle, verifyBundle } from "./bundle.ts";
export { createCheckpointSigner, verifyCheckpoint } from "./checkpoint.ts";
export { type AuditKeys, loadOrCreateAuditKeys, openAuditKeys, writeAuditKeyFile } from "./keys.ts";
export {
  type AuditLog,
  type AuditLogOptions,
  type CheckpointInfo,
  type ConsistencyProof,
  createAuditLog,
  type InclusionProof,
  type LogStatus,
} from "./log.ts";
export type { LogReport, VerifyReport } from "./replay.ts";
export { verifyConsistency, verifyInclusion } from "./merkle.ts";
export { type AuditPage, type AuditQuery, queryEntries, type RevealableEntry, subjectRef } from "./query.ts";
export { ERASED as erasedPersonalValue } from "./personal.ts";
export { type AuditTables, auditMigrations } from "./schema.ts";
export type { IntegrityProblem } from "./verify.ts";
