// Detection rules as code: the shape a rule takes in rampart.yaml (`detect.rules`) and in the
// built-ins. Durations stay as written (`5m`) so a rule's JSON is its identity on hot reload.
import { z } from "zod";
import { Invalid } from "../../platform/errors.ts";
import { outcomes, severities } from "../../platform/events/types.ts";
import { priorities } from "./types.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `30s`, `5m`, `1h`, `30d`. */
export function durationMs(text: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (!m) throw new Invalid("expected a duration such as 30s, 5m, 1h or 30d", "duration");
  return Number(m[1]) * UNITS[m[2] as string]!;
}

const duration = z
  .string()
  .regex(/^\d{1,6}[smhd]$/, { error: "expected a duration such as 30s, 5m, 1h or 30d" });
const positiveDuration = duration.refine((d) => !/^0+[smhd]$/.test(d), { error: "must be longer than 0" });

/** A field of an event a rule may read: its type, actor, target, source, or a path into data. */
export const fieldPathSchema = z
  .string()
  .regex(
    /^(type|source|actor\.(id|kind)|target\.(id|kind)|data\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)$/,
    {
      error: "expected type, source, actor.id, actor.kind, target.id, target.kind or data.<field>",
    },
  );

const oneOrMany = <T extends z.ZodType>(s: T) =>
  z.union([s, z.array(s).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const eventType = z.string().regex(/^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*|\*)?)$/, {
  error: "expected an event type such as identity.login_failed, or a prefix glob such as secrets.*",
});

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { error: "expected HH:MM (24-hour)" });
export const weekdays = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { error: "unknown time zone (expected an IANA name such as Europe/Berlin or UTC)" },
);

const workingHours = z.strictObject({
  from: clockTime,
  to: clockTime,
  days: z.array(z.enum(weekdays)).min(1).default(["mon", "tue", "wed", "thu", "fri"]),
  timezone: timeZone.default("UTC"),
});

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const matchSchema = z.strictObject({
  type: oneOrMany(eventType),
  outcome: oneOrMany(z.enum(outcomes)).optional(),
  minSeverity: z.enum(severities).optional(),
  actorKind: oneOrMany(z.string().min(1)).optional(),
  source: oneOrMany(z.string().min(1)).optional(),
  /** Field equals: keys are paths inside the event's data (`decision`, `binding.role`). */
  data: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/), scalar).optional(),
  /** The deployment's environment (dev, sit, uat, prod). */
  environment: oneOrMany(z.enum(["dev", "sit", "uat", "prod"])).optional(),
  /** Matches only when the event's time lies outside these hours. */
  outsideHours: workingHours.optional(),
  /**
   * The actor acts on itself: `true` compares actor.id with target.id; a field path (or a list)
   * compares actor.id with that field, or looks for it in the field when it holds a list.
   */
  self: z.union([z.literal(true), fieldPathSchema, z.array(fieldPathSchema).min(1)]).optional(),
});

const groupBySchema = z
  .union([
    z.record(
      z.string().regex(/^[a-z][a-zA-Z0-9_]{0,31}$/, { error: "expected a short name such as account" }),
      fieldPathSchema,
    ),
    z.array(fieldPathSchema).min(1),
  ])
  .transform((g): Record<string, string> =>
    Array.isArray(g) ? Object.fromEntries(g.map((p) => [p.slice(p.lastIndexOf(".") + 1), p])) : g,
  );

const conditionSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("count"),
    threshold: z.number().positive(),
    window: positiveDuration,
  }),
  z.strictObject({
    kind: z.literal("distinct"),
    field: fieldPathSchema,
    threshold: z.int().positive().max(100_000),
    window: positiveDuration,
  }),
  z.strictObject({
    kind: z.literal("first_seen"),
    field: fieldPathSchema,
    /** The name the new value takes in the detection's group (default: the field's last segment). */
    as: z
      .string()
      .regex(/^[a-z][a-zA-Z0-9_]{0,31}$/)
      .optional(),
    remember: positiveDuration.default("30d"),
    minKnown: z.int().min(0).default(1),
  }),
  z.strictObject({ kind: z.literal("each") }),
]);

export const ruleSchema = z
  .strictObject({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, { error: "expected lower-case letters, digits and -" }),
    title: z.string().min(1).max(200),
    priority: z.enum(priorities),
    match: matchSchema,
    groupBy: groupBySchema.default({}),
    condition: conditionSchema,
    suppress: duration.optional(),
    summary: z
      .string()
      .max(500)
      .refine((s) => !/\{\{\s*event\.(sensitive|personal)/.test(s), {
        error: "a summary may not show sensitive or personal fields",
      })
      .optional(),
  })
  .superRefine((r, ctx) => {
    if (r.condition.kind === "first_seen") {
      const name = r.condition.as ?? r.condition.field.slice(r.condition.field.lastIndexOf(".") + 1);
      if (Object.hasOwn(r.groupBy, name))
        ctx.addIssue({
          code: "custom",
          path: ["condition", "as"],
          message: `the new value's name ${name} is already a groupBy name; set condition.as`,
        });
    }
  });

export type RuleInput = z.input<typeof ruleSchema>;
export type Rule = z.output<typeof ruleSchema>;

export const detectConfigSchema = z
  .strictObject({
    /** Load the built-in rules; a rule in `rules` with a built-in's id replaces it. */
    builtin: z.boolean().default(true),
    /** Built-in rules to switch off, by id. */
    disable: z.array(z.string()).default(() => []),
    rules: z.array(ruleSchema).default(() => []),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.rules.forEach((r, i) => {
      if (seen.has(r.id))
        ctx.addIssue({
          code: "custom",
          path: ["rules", i, "id"],
          message: `the rule id ${r.id} is used twice`,
        });
      seen.add(r.id);
    });
  });

export type DetectConfig = z.output<typeof detectConfigSchema>;

/** Validates one rule; Invalid names the path of the first problem (`condition.window: …`). */
export function parseRule(input: unknown, where = ""): Rule {
  const r = ruleSchema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = [where, ...(issue?.path ?? []).map(String)].filter(Boolean).join(".");
  throw new Invalid(issue?.message ?? "invalid rule", path || undefined);
}

/** The time a rule's state for one group matters: its window (or 0) and its suppression. */
export function ruleTimings(rule: Rule): { windowMs: number; suppressMs: number; rememberMs: number } {
  const c = rule.condition;
  const windowMs = c.kind === "count" || c.kind === "distinct" ? durationMs(c.window) : 0;
  const suppressMs = rule.suppress !== undefined ? durationMs(rule.suppress) : windowMs || 3_600_000;
  const rememberMs = c.kind === "first_seen" ? durationMs(c.remember) : 0;
  return { windowMs, suppressMs, rememberMs };
}
