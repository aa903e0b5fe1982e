// The one shape every security decision and change of state takes on its way through Rampart.
import { randomUUID } from "node:crypto";
import { z } from "zod";

export const severities = ["info", "low", "medium", "high", "critical"] as const;
export const outcomes = ["success", "failure", "denied", "error", "unknown"] as const;
/** Retention classes decide which audit log an event lands in and how long it is kept. */
export const retentionClasses = ["security", "audit", "application"] as const;

export type Severity = (typeof severities)[number];
export type Outcome = (typeof outcomes)[number];
export type RetentionClass = (typeof retentionClasses)[number];

const ref = z.strictObject({
  kind: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "expected a lower-case kind such as 'user' or 'route'"),
  id: z.string().min(1).max(512),
});

/** Boundary schema: remote gateways' batches are checked against it before anything is stored. */
export const securityEventSchema = z.strictObject({
  id: z.string().min(8).max(64),
  time: z.iso.datetime({ offset: true }),
  type: z
    .string()
    .regex(/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/, "expected a dotted type such as 'waf.blocked'"),
  severity: z.enum(severities),
  /**
   * Who acted. A person is named by kind 'user' and their identifier; the audit log replaces it
   * with a subject key so personal data never enters the log itself.
   */
  actor: ref,
  target: ref.optional(),
  outcome: z.enum(outcomes),
  retention: z.enum(retentionClasses),
  /** Non-secret details. */
  data: z.record(z.string(), z.unknown()).default({}),
  /** Secret or sensitive values: the audit log stores only their keyed HMAC (as Vault's audit does). */
  sensitive: z.record(z.string(), z.string()).optional(),
  /**
   * Personal details (email, name…) of the person in `target`, or in `actor` when the target is
   * not a person. The audit log stores them only encrypted under that person's own key, so erasing
   * the person makes them unreadable; exports and alerts never carry them.
   */
  personal: z
    .record(
      z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "expected a lower-case field name such as 'email'"),
      z.string().max(2048),
    )
    .refine((r) => Object.keys(r).length <= 32, "at most 32 personal fields per event")
    .optional(),
  /** Where the event came from: 'server', a gateway's name. */
  source: z.string().max(128).optional(),
});

export type SecurityEvent = z.infer<typeof securityEventSchema>;
export type EventRef = z.infer<typeof ref>;

export type NewEvent = Omit<SecurityEvent, "id" | "time" | "severity" | "outcome" | "retention" | "data"> &
  Partial<Pick<SecurityEvent, "id" | "time" | "severity" | "outcome" | "retention" | "data">>;

/** Fills in id, time and defaults (info, success, security retention). */
export function newEvent(e: NewEvent, now: Date = new Date()): SecurityEvent {
  return {
    id: e.id ?? randomUUID(),
    time: e.time ?? now.toISOString(),
    severity: e.severity ?? "info",
    outcome: e.outcome ?? "success",
    retention: e.retention ?? "security",
    data: e.data ?? {},
    type: e.type,
    actor: e.actor,
    ...(e.target ? { target: e.target } : {}),
    ...(e.sensitive ? { sensitive: e.sensitive } : {}),
    ...(e.personal ? { personal: e.personal } : {}),
    ...(e.source ? { source: e.source } : {}),
  };
}

export const systemActor: EventRef = { kind: "system", id: "rampart" };
