// Just-in-time access and production protection: public API.
export {
  type ActiveGrant,
  createGrantCache,
  type GrantCache,
  type GrantCacheOptions,
  type JitScope,
} from "./grants.ts";
export {
  createWebhookNotifier,
  type JitNotice,
  type Notify,
  notifierFromConfig,
  SIGNATURE_HEADER,
  signWebhookBody,
  slackMessage,
  verifyWebhookSignature,
  webhookBody,
  type WebhookNotifier,
  type WebhookNotifierOptions,
} from "./notify.ts";
export {
  breakGlassSchema,
  type JitConfig,
  jitConfigSchema,
  type JitRoleRule,
  jitRoleRuleSchema,
} from "./policy.ts";
export { grantsForRoute, PRODUCTION, standingAccessAllowed } from "./production.ts";
export { type JitTables, jitMigrations } from "./schema.ts";
export {
  type AccessGrant,
  createJitAccess,
  type JitAccess,
  type JitAccessOptions,
  type JitDecision,
  type JitRequest,
  type JitRequestInput,
  jitRequestInputSchema,
  type JitRequestStatus,
  jitScopeSchema,
} from "./service.ts";
