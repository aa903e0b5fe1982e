// Slack incoming webhooks: POST {text, blocks}; 200 "ok"; errors are a status and a short code
// in the body (invalid_payload, no_service, channel_is_archived…); 429 carries Retry-After.
import type { Clock } from "../../../platform/clock.ts";
import type { AlertMessage } from "../messages.ts";
import { type AlertChannel, DeliveryError, postJson } from "./delivery.ts";

// Slack reads &, < and > as control characters in mrkdwn (links, mentions such as <!channel>).
const slackEscape = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
const cut = (s: string, max: number) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

const ALARM: Record<AlertMessage["priority"], string> = {
  P0: ":rotating_light: ",
  P1: ":rotating_light: ",
  P2: ":warning: ",
  P3: "",
};

/** Slack's incoming-webhook payload for an alert: `text` as the notification, `blocks` for the message. */
export function slackAlertPayload(m: AlertMessage): { text: string; blocks: unknown[] } {
  const headline = `${ALARM[m.priority]}*[${m.priority}] ${slackEscape(m.title)}*`;
  const text = cut(`[${m.priority}] ${slackEscape(m.title)}: ${slackEscape(m.summary)}`, 3000);
  const blocks: unknown[] = [
    { type: "section", text: { type: "mrkdwn", text: cut(`${headline}\n${slackEscape(m.summary)}`, 3000) } },
  ];
  const fields = Object.entries(m.details)
    .slice(0, 10)
    .map(([k, v]) => ({ type: "mrkdwn", text: cut(`*${slackEscape(k)}*\n${slackEscape(String(v))}`, 2000) }));
  if (fields.length > 0) blocks.push({ type: "section", fields });
  const context = [`Rampart · ${m.kind.replaceAll("_", " ")}`];
  if (m.rule) context.push(`rule ${slackEscape(m.rule)}`);
  if (m.incident) {
    const label = `incident ${slackEscape(m.incident.id)} (${slackEscape(m.incident.state)})`;
    // Only the URL's own characters may stand inside <url|label>: escape none of the URL but `|` and `>`.
    context.push(
      m.incident.url ? `<${m.incident.url.replaceAll(/[|>]/g, encodeURIComponent)}|${label}>` : label,
    );
  }
  blocks.push({ type: "context", elements: [{ type: "mrkdwn", text: cut(context.join(" · "), 3000) }] });
  return { text, blocks };
}

/** A Slack incoming-webhook channel; the URL is the secret and never leaves this closure. */
export function slackChannel(c: { name: string; url: string }, clock: Clock): AlertChannel {
  return {
    name: c.name,
    type: "slack",
    async deliver(message, signal) {
      const answer = await postJson(c.url, JSON.stringify(slackAlertPayload(message)), {
        signal,
        now: clock.now(),
        // Slack's error bodies are short snake_case codes; anything else is not repeated.
        detail: (a) => (/^[a-z_]{1,64}$/.test(a.body.trim()) ? a.body.trim() : undefined),
      });
      // Slack answers 200 "ok"; any other 2xx body means something between us and Slack answered.
      if (answer.body.trim() !== "ok") throw new DeliveryError(`status ${answer.status} unexpected body`);
    },
  };
}
