// Data-subject requests (issue #10 item 3): intake, identity verification, approval, the engine's
// run, deadlines with reminders, and mail to the requester.
export { type AppIdentity, type AppTokenVerifier, createAppTokenVerifier } from "./app-token.ts";
export {
  type AppTokenKey,
  needsApproval,
  type PrivacyRequestsConfig,
  privacyRequestsConfigSchema,
} from "./config.ts";
export { addDays, addMonths, daysLeft, reminderDue } from "./deadlines.ts";
export { escapeHtml } from "./messages.ts";
export {
  type ApproveInput,
  approveSchema,
  completeSchema,
  correctionSchema,
  type Intake,
  intakeSchema,
  kindSchema,
  reasonSchema,
  recordSchema,
  requestMigrations,
  type RequestTables,
  stateSchema,
  tokenSchema,
  verifySchema,
} from "./schema.ts";
export {
  type Correction,
  createPrivacyRequests,
  type HistoryEntry,
  type IntakeResult,
  type Nominee,
  type PrivacyRequest,
  type PrivacyRequests,
  type PrivacyRequestsDeps,
  type PublicStatus,
  type ReceiptRef,
  type RequestQuery,
  type TickReport,
} from "./service.ts";
export {
  canMove,
  type EngineAction,
  engineActions,
  isClosed,
  isManual,
  nextStates,
  type PrivacyRequestKind,
  requestKindNames,
  type RequestState,
  requestStates,
} from "./states.ts";
