// The actions a playbook step may call: their names (fixed), the schema of each one's `with`, and
// the interface the server implements over the real modules (src/server/playbook-actions.ts).
// Kept here so a playbook is validated without the server, and a dry run needs no module at all.
import { z } from "zod";
import type { Priority } from "../detect/types.ts";
import type { EventRef } from "../../platform/events/index.ts";

const DURATION = /^(\d{1,7})\s*(s|m|h|d)$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Parses `90s`, `15m`, `24h`, `7d` (or whole seconds) into seconds; undefined when malformed. */
export function durationSeconds(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v > 0 ? v : undefined;
  const m = DURATION.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS];
  return n > 0 ? n : undefined;
}

/** A duration such as `24h`, as seconds. */
export const durationSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = durationSeconds(v);
  if (s === undefined) {
    ctx.addIssue({ code: "custom", message: "expected a duration such as 90s, 15m, 24h or 7d" });
    return z.NEVER;
  }
  return s;
});

const MAX_TTL = 365 * 86_400;
const ttl = durationSchema
  .refine((s) => s <= MAX_TTL, "at most 365d")
  .default(86_400)
  .describe("how long the block or lockdown lasts (default 24h)");
const reason = z.string().trim().min(1).max(500);
const text = z.string().trim().min(1).max(4000);
const secretPath = z.string().regex(/^\/[^\s]+$/, "expected a secret path such as /prod/api/db");
const subject = z.string().trim().min(1).max(512);

/** Breach notification clocks: the regulator and how long it allows. */
export const breachClocks = {
  "dpdp-72h": { hours: 72, regulator: "Data Protection Board of India (DPDP Rule 7 detailed report)" },
  "gdpr-72h": { hours: 72, regulator: "GDPR supervisory authority (Art. 33)" },
  "cert-in-6h": { hours: 6, regulator: "CERT-In (Directions of 28 April 2022)" },
} as const;
export type BreachClockKind = keyof typeof breachClocks;
const breachClockKinds = Object.keys(breachClocks) as [BreachClockKind, ...BreachClockKind[]];

/** The `with` schema of every action, by name. */
/** Retire the credential a rotation replaced at once, skipping its grace period (it is compromised). */
const retirePrevious = z
  .union([z.boolean(), z.enum(["true", "false"]).transform((v) => v === "true")])
  .default(false);

export const actionSchemas = {
  "gateway.block_ip": z.strictObject({
    ip: z
      .string()
      .trim()
      .regex(/^[0-9A-Fa-f:.]+(\/\d{1,3})?$/, "expected an IP address or CIDR range, e.g. 203.0.113.7")
      .max(64),
    ttl,
    reason,
  }),
  "gateway.block_country": z.strictObject({
    country: z
      .string()
      .trim()
      .regex(/^[A-Za-z]{2}$/, "expected an ISO 3166-1 alpha-2 country code such as RU")
      .transform((c) => c.toUpperCase()),
    ttl,
    reason,
  }),
  "gateway.lockdown_route": z.strictObject({
    /** The route's id (its `id`, or `<host or *><path>`). */
    route: z.string().trim().min(1).max(512),
    ttl,
    reason,
    /** Addresses or ranges admitted; default the route's and gateway's `ipRules.allow`. */
    allow: z.array(z.string().trim().min(1).max(64)).max(100).optional(),
  }),
  "identity.revoke_api_key": z.strictObject({ id: z.string().trim().min(1).max(64) }),
  "identity.revoke_subject": z.strictObject({ subject, reason }),
  "secrets.rotate": z.strictObject({ path: secretPath, retirePrevious }),
  "secrets.rotate_readable_by": z.strictObject({
    subject,
    retirePrevious,
    /** `user` (a person, `<provider>:<sub>`) or `service` (a service account); guessed from the subject when absent. */
    kind: z.enum(["user", "service"]).optional(),
    /** How far back the secrets read log is searched (default 30d). */
    since: durationSchema.default(30 * 86_400),
  }),
  "secrets.revoke_version": z.strictObject({
    path: secretPath,
    version: z.coerce.number().int().min(1).optional(),
    reason: reason.default("revoked by an incident playbook"),
  }),
  "evidence.snapshot": z.strictObject({
    query: z
      .strictObject({
        actor: z.string().trim().min(3).max(600).optional(),
        target: z.string().trim().min(3).max(600).optional(),
        since: durationSchema.default(86_400),
      })
      .default({ since: 86_400 }),
  }),
  notify: z.strictObject({ channel: z.string().trim().min(1).max(128).optional(), text }),
  "incident.start_breach_clocks": z.strictObject({
    kinds: z.array(z.enum(breachClockKinds)).min(1),
    /** Why the clocks start now (e.g. "pending assessment"). */
    status: z.string().trim().max(200).default("pending assessment"),
  }),
  "incident.note": z.strictObject({ text }),
  "incident.transition": z.strictObject({ to: z.string().trim().min(1).max(64) }),
} as const;

export type ActionName = keyof typeof actionSchemas;
export const actionNames = Object.keys(actionSchemas) as ActionName[];
export type ActionParams<A extends ActionName> = z.output<(typeof actionSchemas)[A]>;

/** A JSON-safe summary of what an action did; never a secret value. */
export type ActionResult = Record<string, unknown>;

export interface ActionContext {
  /** The playbook as actor: `{ kind: "playbook", id }`. Action implementations emit their events as it. */
  by: EventRef;
  /** `rule:<id>` or the person or token that started the run. */
  triggeredBy: string;
  incident?: { id: string; priority: Priority } | undefined;
  run: string;
  step: string;
  dryRun: boolean;
}

type Action<A extends ActionName> = (params: ActionParams<A>, ctx: ActionContext) => Promise<ActionResult>;

/** What Rampart can do from a playbook: one method per action. */
export interface PlaybookActions {
  blockIp: Action<"gateway.block_ip">;
  blockCountry: Action<"gateway.block_country">;
  lockdownRoute: Action<"gateway.lockdown_route">;
  revokeApiKey: Action<"identity.revoke_api_key">;
  revokeSubject: Action<"identity.revoke_subject">;
  rotateSecret: Action<"secrets.rotate">;
  rotateReadableBy: Action<"secrets.rotate_readable_by">;
  revokeSecretVersion: Action<"secrets.revoke_version">;
  snapshotEvidence: Action<"evidence.snapshot">;
  notify: Action<"notify">;
  startBreachClocks: Action<"incident.start_breach_clocks">;
  noteIncident: Action<"incident.note">;
  transitionIncident: Action<"incident.transition">;
}

/** Which method of PlaybookActions carries out each action. */
export const actionMethods: { [A in ActionName]: keyof PlaybookActions } = {
  "gateway.block_ip": "blockIp",
  "gateway.block_country": "blockCountry",
  "gateway.lockdown_route": "lockdownRoute",
  "identity.revoke_api_key": "revokeApiKey",
  "identity.revoke_subject": "revokeSubject",
  "secrets.rotate": "rotateSecret",
  "secrets.rotate_readable_by": "rotateReadableBy",
  "secrets.revoke_version": "revokeSecretVersion",
  "evidence.snapshot": "snapshotEvidence",
  notify: "notify",
  "incident.start_breach_clocks": "startBreachClocks",
  "incident.note": "noteIncident",
  "incident.transition": "transitionIncident",
};

/** A person's subject is `<provider>:<sub>`; a service account's name has no colon. */
export function subjectRef(subject: string, kind?: "user" | "service"): EventRef {
  return { kind: kind ?? (subject.includes(":") ? "user" : "service"), id: subject };
}

/** What an action acts on, for the `target` of its audit event. */
export function actionTarget(
  action: ActionName,
  params: Record<string, unknown>,
  incident: string | undefined,
): EventRef | undefined {
  const s = (k: string) => (typeof params[k] === "string" && params[k] !== "" ? params[k] : undefined);
  const ref = (kind: string, id: string | undefined) => (id ? { kind, id: id.slice(0, 512) } : undefined);
  switch (action) {
    case "gateway.block_ip":
      return ref("ip", s("ip"));
    case "gateway.block_country":
      return ref("country", s("country"));
    case "gateway.lockdown_route":
      return ref("route", s("route"));
    case "identity.revoke_api_key":
      return ref("api_key", s("id"));
    case "identity.revoke_subject":
    case "secrets.rotate_readable_by": {
      const sub = s("subject");
      return sub
        ? subjectRef(sub, params.kind === "user" || params.kind === "service" ? params.kind : undefined)
        : undefined;
    }
    case "secrets.rotate":
    case "secrets.revoke_version":
      return ref("secret", s("path"));
    case "notify":
      return ref("channel", s("channel") ?? "default");
    default:
      return ref("incident", incident);
  }
}
