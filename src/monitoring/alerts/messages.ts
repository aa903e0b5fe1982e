// What an alert says, whatever the channel: one shape for Slack, webhooks, PagerDuty and email.
import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import { type Detection, type Priority, priorities } from "../detect/types.ts";

export const alertKinds = [
  "detection",
  "incident_opened",
  "incident_updated",
  "incident_resolved",
  "notice",
] as const;
export type AlertKind = (typeof alertKinds)[number];

export interface AlertMessage {
  kind: AlertKind;
  /** Unique per message: receivers deduplicate retries by it. */
  id: string;
  priority: Priority;
  title: string;
  summary: string;
  /** Dedup key: the detection fingerprint or `incident:<id>`; PagerDuty's dedup_key. */
  key: string;
  incident?: { id: string; state: string; url?: string };
  rule?: string;
  /** ISO time. */
  at: string;
  /** Non-secret details. */
  details: Record<string, string | number | boolean>;
}

/** Boundary check of a message before it is queued: a bad one fails at `send`, not at every retry. */
export const alertMessageSchema = z.strictObject({
  kind: z.enum(alertKinds),
  id: z.string().min(1).max(128),
  priority: z.enum(priorities),
  title: z.string().min(1).max(1000),
  summary: z.string().max(10_000),
  key: z.string().min(1).max(255),
  incident: z
    .strictObject({
      id: z.string().min(1).max(128),
      state: z.string().min(1).max(64),
      url: z.url({ protocol: /^https?$/ }).optional(),
    })
    .optional(),
  rule: z.string().min(1).max(256).optional(),
  at: z.iso.datetime({ offset: true }),
  details: z.record(z.string().max(128), z.union([z.string().max(2000), z.number(), z.boolean()])),
});

/** The message checked against {@link alertMessageSchema}; Invalid says which field is wrong. */
export function checkAlertMessage(raw: unknown): AlertMessage {
  const r = alertMessageSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Invalid(issue?.message ?? "invalid alert message", `alert.${issue?.path.join(".") ?? ""}`);
  }
  return r.data as AlertMessage;
}

/** The alert for one detection; `incidentUrl` links the incident it opened or joined. */
export function messageFromDetection(
  d: Detection,
  o: { incidentUrl?: string; incident?: { id: string; state: string } } = {},
): AlertMessage {
  const details: Record<string, string | number | boolean> = {
    ...d.group,
    count: d.count,
    firstAt: d.firstAt,
    lastAt: d.lastAt,
    detection: d.id,
  };
  if (o.incidentUrl) details.incidentUrl = o.incidentUrl;
  const incident = o.incident
    ? { ...o.incident, ...(o.incidentUrl ? { url: o.incidentUrl } : {}) }
    : undefined;
  return {
    kind: "detection",
    // One message per firing: a retry of the same firing carries the same id.
    id: `detection:${d.id}`,
    priority: d.priority,
    title: d.title,
    summary: d.summary,
    key: d.fingerprint,
    ...(incident ? { incident } : {}),
    rule: d.rule,
    at: d.firedAt,
    details,
  };
}
