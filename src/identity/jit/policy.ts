// The approval policy as code (the `jit:` section of rampart.yaml): per role, and optionally per
// environment, who may request, who may approve, how many approvers, for how long.
import { z } from "zod";
import type { Identity } from "../types.ts";

const MINUTES_PER_WEEK = 7 * 24 * 60;

const name = z.string().min(1).max(256);

/** People by group, or by user: an entry with `@` is a verified email, anything else a subject. */
const principalsSchema = z
  .strictObject({
    groups: z.array(name).default(() => []),
    users: z.array(name).default(() => []),
  })
  .refine((p) => p.groups.length + p.users.length > 0, { error: "name at least one group or user" });

const ticketPattern = z.string().refine(
  (p) => {
    try {
      new RegExp(p, "u");
      return true;
    } catch {
      return false;
    }
  },
  { error: "expected a valid regular expression" },
);

export const jitRoleRuleSchema = z
  .strictObject({
    role: name,
    /** The rule applies to requests in these environments only; absent: any environment. */
    environments: z.array(name).min(1).optional(),
    requesters: principalsSchema,
    approvers: principalsSchema,
    /** Distinct approvers needed (n of the m people `approvers` names). */
    approvals: z.number().int().min(1).max(10).default(1),
    maxDurationMinutes: z.number().int().min(1).max(MINUTES_PER_WEEK),
    /** When set, the justification must contain a ticket reference matching it (`^(INC|CHG)-\d+`). */
    ticketPattern: ticketPattern.optional(),
  })
  .refine((r) => r.approvers.groups.length > 0 || r.approvals <= r.approvers.users.length, {
    error: "more approvals than named approvers",
    path: ["approvals"],
  });

export const breakGlassSchema = z.strictObject({
  /** Who may break the glass. */
  groups: z.array(name).min(1),
  /** Roles that may be taken this way. */
  roles: z.array(name).min(1),
  /** Short by design: break-glass is for the outage, a JIT request for the follow-up. */
  maxDurationMinutes: z.number().int().min(1).max(240).default(60),
});

const webhookSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  /** HMAC-SHA256 key for the `X-Rampart-Signature` header; at least 32 characters. */
  secret: z.string().min(32),
});

export const jitConfigSchema = z.strictObject({
  /** A pending request lapses after this, whatever duration it asked for. */
  requestExpiryHours: z.number().int().min(1).max(168).default(24),
  roles: z.array(jitRoleRuleSchema).default(() => []),
  breakGlass: breakGlassSchema.optional(),
  notify: z
    .strictObject({
      webhooks: z.array(webhookSchema).default(() => []),
      /** Slack incoming-webhook URLs (the URL is the secret: it never reaches logs). */
      slack: z.array(z.strictObject({ url: z.url({ protocol: /^https?$/ }) })).default(() => []),
    })
    .prefault({}),
});

export type JitConfig = z.output<typeof jitConfigSchema>;
export type JitRoleRule = z.output<typeof jitRoleRuleSchema>;
type Principals = JitRoleRule["approvers"];

/**
 * The rule for `role` in `environment`: one naming the environment wins over a general one, so a
 * stricter prod rule cannot be sidestepped. Undefined when no rule allows requesting the role.
 */
export function ruleFor(
  config: JitConfig,
  role: string,
  environment: string | null,
): JitRoleRule | undefined {
  let general: JitRoleRule | undefined;
  for (const rule of config.roles) {
    if (rule.role !== role) continue;
    if (!rule.environments) general ??= rule;
    else if (environment !== null && rule.environments.includes(environment)) return rule;
  }
  return general;
}

/** Whether `who` is one of `principals` (groups, subjects, or verified emails). */
export function isNamed(principals: Principals, who: Identity): boolean {
  if (principals.groups.some((g) => who.groups.includes(g))) return true;
  const email = who.emailVerified && who.email ? who.email.toLowerCase() : undefined;
  return principals.users.some((u) => (u.includes("@") ? u.toLowerCase() === email : u === who.subject));
}

/** Same person: same subject, or the same email on another identity (verified or not: refusing is safe). */
export function samePerson(
  a: { subject: string; email: string | null },
  b: { subject: string; email: string | null },
): boolean {
  if (a.subject === b.subject) return true;
  return a.email !== null && b.email !== null && a.email === b.email;
}

/** Emails compare case-insensitively; stored lower-case. */
export function normalEmail(email: string | undefined): string | null {
  return email ? email.trim().toLowerCase() : null;
}
