// A route's `policy:` as written in rampart.yaml. Every object is strict and every list non-empty:
// a misspelt key or an emptied list must be an error, never a rule that quietly admits more.
import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import { parseRange } from "./cidr.ts";
import { globProblem } from "./glob.ts";
import { isTimeZone } from "./time.ts";

const list = <T extends z.ZodType>(item: T) =>
  z.array(item).min(1, { error: "an empty list matches nothing: list a value or remove the condition" });

/** One value or a list of them, read as a list. */
const oneOrList = <T extends z.ZodType>(item: T) =>
  z.union([item, list(item)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const text = z.string().min(1, { error: "must not be empty" });

const email = z
  .string()
  .regex(/^[^\s@]+@[^\s@]+$/, { error: "expected an email address" })
  .transform((v) => v.toLowerCase());

const domain = z
  .string()
  .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, {
    error: 'expected a domain such as "example.com" (no "@", no wildcard: subdomains are separate domains)',
  })
  .transform((v) => v.toLowerCase());

const FORBIDDEN_CLAIM_NAMES = new Set(["__proto__", "prototype", "constructor"]);
const claims = z
  .record(z.string(), list(z.union([z.string(), z.number(), z.boolean()])))
  .superRefine((c, ctx) => {
    const names = Object.keys(c);
    if (names.length === 0) ctx.addIssue({ code: "custom", message: "name at least one claim" });
    for (const name of names)
      if (!name.split(".").every((s) => s !== "" && !FORBIDDEN_CLAIM_NAMES.has(s)))
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: "expected a claim name, dotted for nested claims (department, address.country)",
        });
  });

const sourceRange = z.string().refine((v) => parseRange(v) !== undefined, {
  error: "expected an IP address or CIDR range (dotted decimal IPv4 or IPv6), e.g. 10.0.0.0/8",
});

const country = z
  .string()
  .regex(/^[A-Z]{2}$/, { error: 'expected an ISO 3166-1 alpha-2 country code such as "IN"' });

const method = z
  .string()
  .regex(/^[A-Za-z]+$/, { error: "expected an HTTP method such as GET" })
  .transform((v) => v.toUpperCase());

const pathGlob = z
  .string()
  .startsWith("/", { error: 'a path glob starts with "/"' })
  .refine((v) => !/[?#]/.test(v), { error: "a path glob has no query or fragment" })
  .superRefine((v, ctx) => {
    const problem = globProblem(v, "/");
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  // Routes match paths without regard to case, so policies do too.
  .transform((v) => v.toLowerCase());

const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

const clockTime = (to: boolean) =>
  z
    .string()
    .regex(to ? /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/ : /^([01]\d|2[0-3]):[0-5]\d$/, {
      error: `expected a time HH:MM from 00:00 to ${to ? "24:00" : "23:59"}`,
    })
    .transform((v) => Number(v.slice(0, 2)) * 60 + Number(v.slice(3)));

const timeWindow = z
  .strictObject({
    /** Days the window opens on; a window crossing midnight belongs to the day it opens. */
    days: list(z.enum(DAYS)).optional(),
    from: clockTime(false).optional(),
    to: clockTime(true).optional(),
    timeZone: z
      .string()
      .refine(isTimeZone, { error: "expected an IANA time zone such as Europe/London" })
      .default("UTC"),
  })
  .superRefine((w, ctx) => {
    if ((w.from === undefined) !== (w.to === undefined))
      ctx.addIssue({
        code: "custom",
        path: [w.from === undefined ? "from" : "to"],
        message: "from and to go together",
      });
    else if (w.from !== undefined && w.from === w.to)
      ctx.addIssue({
        code: "custom",
        path: ["to"],
        message: "from and to are equal: omit both for whole days",
      });
    if (w.days === undefined && w.from === undefined)
      ctx.addIssue({ code: "custom", message: "give days, or from and to, or both" });
  })
  .transform((w) => ({ ...w, days: w.days?.map((d) => DAYS.indexOf(d)) }));

const fingerprint = z
  .string()
  .transform((v) => v.replaceAll(":", "").toLowerCase())
  .refine((v) => /^[0-9a-f]{64}$/.test(v), {
    error: "expected a SHA-256 fingerprint: 64 hex digits, colons allowed",
  });

const clientCertificate = z
  .strictObject({
    fingerprints: list(fingerprint).optional(),
    subjects: list(text).optional(),
    /** As the listener reports them: `DNS:svc.internal`, `URI:spiffe://…`, `email:…`. */
    sans: list(text).optional(),
  })
  .refine((c) => Object.keys(c).length > 0, { error: "give fingerprints, subjects or sans" });

/** What a rule looks at; all given must hold, and within one, any listed value may match. */
export const ruleConditionsSchema = z
  .strictObject({
    /** Subjects (`<provider>:<sub>`, a service account's name) or verified emails. */
    users: list(text).optional(),
    emails: list(email).optional(),
    /** Domains of verified emails. */
    domains: list(domain).optional(),
    groups: list(text).optional(),
    roles: list(text).optional(),
    claims: claims.optional(),
    serviceAccounts: list(text).optional(),
    kind: oneOrList(z.enum(["user", "service"])).optional(),
    credential: oneOrList(z.enum(["session", "access-token", "api-key", "client-certificate"])).optional(),
    sourceCidrs: list(sourceRange).optional(),
    countries: list(country).optional(),
    methods: list(method).optional(),
    paths: list(pathGlob).optional(),
    time: timeWindow.optional(),
    clientCertificate: clientCertificate.optional(),
    environments: list(text).optional(),
  })
  .refine((c) => Object.keys(c).length > 0, {
    error: "a rule needs at least one condition (a rule with none would match every request)",
    // A misspelt key is reported as such, not also as a missing condition.
    when: (payload) => payload.issues.length === 0,
  });

const ruleSchema = z
  .strictObject({
    /** Shown in decisions, explanations and events. */
    name: text.optional(),
    allow: ruleConditionsSchema.optional(),
    deny: ruleConditionsSchema.optional(),
  })
  .superRefine((r, ctx) => {
    if ((r.allow === undefined) === (r.deny === undefined))
      ctx.addIssue({ code: "custom", message: "a rule is either allow: {…} or deny: {…}" });
  })
  .transform((r) =>
    r.allow !== undefined
      ? { name: r.name, kind: "allow" as const, when: r.allow }
      : { name: r.name, kind: "deny" as const, when: r.deny as RuleConditions },
  );

/** A route's access policy: deny rules win, then allow rules; nothing matching means deny. */
export const routePolicySchema = z.strictObject({
  /** Decide and report, but let every request through: for trying a policy on live traffic. */
  shadow: z.boolean().default(false),
  rules: z.array(ruleSchema).min(1, { error: "no rules: list at least one allow rule" }),
});

export type RuleConditions = z.output<typeof ruleConditionsSchema>;
export type PolicyRule = z.output<typeof ruleSchema>;
export type RoutePolicy = z.output<typeof routePolicySchema>;
/** A policy as written in rampart.yaml, before defaults and normalisation. */
export type RoutePolicyInput = z.input<typeof routePolicySchema>;

/** `rules[2].allow.sourceCidrs[1]` from a zod issue path. */
export function formatIssuePath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const key of path)
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  return out;
}

/** Validates a raw `policy:` object; throws Invalid naming each problem's place under `where`. */
export function parseRoutePolicy(raw: unknown, where = "policy"): RoutePolicy {
  const result = routePolicySchema.safeParse(raw);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${formatIssuePath(where, i.path)}: ${i.message}`);
  throw new Invalid(problems.join("\n"));
}
