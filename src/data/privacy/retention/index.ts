// Retention (issue #10 item 6): the data map's retention policies carried out — inactivity notices,
// erasure through the DSR engine after the notice, cancellation on renewed activity.
export { noticeText } from "./notice.ts";
export {
  type NoticeState,
  noticeStates,
  type RetentionConfig,
  retentionConfigSchema,
  retentionMigrations,
  type RetentionTables,
} from "./schema.ts";
export { createRetention, type PolicyReport, type Retention, type RetentionReport } from "./service.ts";
