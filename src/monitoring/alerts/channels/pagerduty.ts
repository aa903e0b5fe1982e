// PagerDuty Events API v2: POST /v2/enqueue; 202 {status: "success", dedup_key}; 400 is an invalid
// event (permanent); 429 and 5xx are retried. PagerDuty groups by dedup_key, so a message's `key`
// (fingerprint or incident) keeps one PagerDuty incident per Rampart incident.
import type { Clock } from "../../../platform/clock.ts";
import type { Priority } from "../../detect/types.ts";
import type { AlertMessage } from "../messages.ts";
import { type AlertChannel, postJson } from "./delivery.ts";

export const pagerdutySeverity: Record<Priority, "critical" | "error" | "warning" | "info"> = {
  P0: "critical",
  P1: "error",
  P2: "warning",
  P3: "info",
};

/** The Events API v2 body for a message: `resolve` for a resolved incident, `trigger` otherwise. */
export function pagerdutyEvent(m: AlertMessage, routingKey: string): Record<string, unknown> {
  const dedupKey = m.key.slice(0, 255);
  if (m.kind === "incident_resolved")
    return { routing_key: routingKey, event_action: "resolve", dedup_key: dedupKey };
  const summary = `[${m.priority}] ${m.title}: ${m.summary}`;
  return {
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: dedupKey,
    payload: {
      summary: summary.length > 1024 ? `${summary.slice(0, 1023)}…` : summary,
      source: "rampart",
      severity: pagerdutySeverity[m.priority],
      timestamp: m.at,
      ...(m.rule ? { component: m.rule } : {}),
      class: m.kind,
      custom_details: {
        ...m.details,
        message_id: m.id,
        ...(m.incident ? { incident: m.incident.id, incident_state: m.incident.state } : {}),
      },
    },
    client: "Rampart",
    ...(m.incident?.url
      ? { client_url: m.incident.url, links: [{ href: m.incident.url, text: `Incident ${m.incident.id}` }] }
      : {}),
  };
}

/** A PagerDuty Events v2 channel; the routing key is the secret. */
export function pagerdutyChannel(
  c: { name: string; url: string; routingKey: string },
  clock: Clock,
): AlertChannel {
  return {
    name: c.name,
    type: "pagerduty",
    async deliver(message, signal) {
      await postJson(c.url, JSON.stringify(pagerdutyEvent(message, c.routingKey)), {
        signal,
        now: clock.now(),
      });
    },
  };
}
