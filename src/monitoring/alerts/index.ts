// Alerts: routing of messages to Slack, signed webhooks, PagerDuty and email, through a durable
// outbox with retries.
export { type AlertChannel, createChannel, DeliveryError } from "./channels/index.ts";
export { alertMessageId, emailContent } from "./channels/email.ts";
export { pagerdutyEvent, pagerdutySeverity } from "./channels/pagerduty.ts";
export { slackAlertPayload } from "./channels/slack.ts";
export {
  SIGNATURE_HEADER,
  SIGNATURE_V1_HEADER,
  signAlertBody,
  TIMESTAMP_HEADER,
  verifyAlertSignature,
  webhookAlertBody,
} from "./channels/webhook.ts";
export {
  type AlertKind,
  type AlertMessage,
  alertKinds,
  alertMessageSchema,
  checkAlertMessage,
  messageFromDetection,
} from "./messages.ts";
export {
  type Alerts,
  type AlertsOptions,
  type AlertTables,
  alertMigrations,
  backoffMs,
  createAlerts,
  type OutboxEntry,
  type OutboxStatus,
  outboxStatuses,
  routeMessage,
} from "./outbox.ts";
export {
  type AlertChannelConfig,
  type AlertRoute,
  type AlertsConfig,
  alertChannelSchema,
  alertRouteSchema,
  alertsConfigSchema,
  PAGERDUTY_EVENTS_URL,
} from "./schema.ts";
