// A channel for each configured destination.
import type { Clock } from "../../../platform/clock.ts";
import type { AlertChannelConfig } from "../schema.ts";
import type { AlertChannel } from "./delivery.ts";
import { emailChannel } from "./email.ts";
import { pagerdutyChannel } from "./pagerduty.ts";
import { slackChannel } from "./slack.ts";
import { webhookChannel } from "./webhook.ts";

export { type AlertChannel, DeliveryError } from "./delivery.ts";

/** The channel that delivers to `c`. */
export function createChannel(c: AlertChannelConfig, clock: Clock): AlertChannel {
  switch (c.type) {
    case "slack":
      return slackChannel(c, clock);
    case "webhook":
      return webhookChannel(c, clock);
    case "pagerduty":
      return pagerdutyChannel(c, clock);
    case "email":
      return emailChannel(c, clock);
  }
}
