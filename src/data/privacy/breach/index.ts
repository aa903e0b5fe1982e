// The personal-data breach register (issue #10 item 7): records, per-regime notification clocks
// (GDPR 72 h, DPDP without delay + 72 h, CERT-In 6 h), reminders, notifications and drafts.
export {
  type BreachRegime,
  breachRegimes,
  type ClockKey,
  clockDefinitions,
  clockKeys,
  type ClockState,
  clockStates,
  type NotificationRecipient,
  notificationRecipients,
  reminderTimes,
  shortDuration,
} from "./clocks.ts";
export { draftsFor, escapeText } from "./drafts.ts";
export {
  type BreachConfig,
  breachConfigSchema,
  breachMigrations,
  type BreachStatus,
  breachStatuses,
  type BreachTables,
  type NotifyInput,
  notifySchema,
  type OpenBreach,
  openBreachSchema,
  type UpdateBreach,
  updateBreachSchema,
} from "./schema.ts";
export {
  type BreachQuery,
  type BreachRegister,
  createBreachRegister,
  type OpenFromIncident,
} from "./service.ts";
export { canMoveBreach, nextStatuses } from "./status.ts";
export {
  type Breach,
  type BreachClock,
  type BreachDraft,
  type BreachNotification,
  type DraftKind,
  draftKinds,
} from "./types.ts";
