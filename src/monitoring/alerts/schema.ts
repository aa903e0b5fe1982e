// The `alerts:` section of rampart.yaml: channels (where alerts go), routes (which alerts go where)
// and the retry policy of the outbox.
import { z } from "zod";
import { priorities } from "../detect/types.ts";
import { alertKinds } from "./messages.ts";

// References resolve to strings, so a string of digits counts as a number: `port: ${env:SMTP_PORT}`.
const digitsToNumber = (value: unknown) =>
  typeof value === "string" && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
const integer = (min: number, max: number) =>
  z.preprocess(digitsToNumber, z.number().int().min(min).max(max));

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration as `250ms`, `2s`, `10m`, `1h` (or a number of milliseconds), in milliseconds. */
export function durationMs(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const m = typeof v === "number" ? null : /^([0-9]{1,9})(ms|s|m|h)$/.exec(v.trim());
    const ms = typeof v === "number" ? v : m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : NaN;
    if (!Number.isInteger(ms) || ms < min || ms > max) {
      ctx.addIssue({
        code: "custom",
        message: `expected a duration between ${min}ms and ${max / 1000}s, such as 2s or 10m`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

const httpUrl = z.string().refine((v) => {
  if (!URL.canParse(v)) return false;
  const u = new URL(v);
  return (u.protocol === "https:" || u.protocol === "http:") && u.host !== "" && /^https?:\/\//i.test(v);
}, "expected an http(s) URL");

const channelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected a lower-case name such as 'sec-slack'");

const slackChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal("slack"),
  /** Slack incoming-webhook URL; the URL is the secret, so it never reaches logs, events or errors. */
  url: httpUrl,
});

const webhookChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal("webhook"),
  url: httpUrl,
  /** HMAC-SHA256 key for the `x-rampart-signature` headers; at least 32 characters. */
  secret: z.string().min(32, "expected a signing secret of at least 32 characters"),
});

export const PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue";

const pagerdutyChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal("pagerduty"),
  /** The integration's routing key (Events API v2); a secret. */
  routingKey: z.string().min(1).max(64),
  url: httpUrl.default(PAGERDUTY_EVENTS_URL),
});

const email = z.email();

const smtpSchema = z
  .strictObject({
    host: z.string().min(1),
    port: integer(1, 65_535).default(587),
    /** TLS from the first byte (port 465); false: plain connection upgraded by STARTTLS. */
    secure: z.boolean().default(false),
    /** Refuse to send unless STARTTLS succeeds: deny by default, so the password never goes in clear. */
    requireTLS: z.boolean().default(true),
    user: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    tls: z
      .strictObject({
        /** PEM CA bundle trusted for the SMTP server, instead of the public roots. */
        caFile: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .prefault({}),
  })
  .refine((s) => (s.user === undefined) === (s.password === undefined), {
    error: "user and password go together",
    path: ["user"],
  });

const emailChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal("email"),
  to: z.array(email).min(1),
  from: email,
  smtp: smtpSchema,
});

export const alertChannelSchema = z.discriminatedUnion("type", [
  slackChannelSchema,
  webhookChannelSchema,
  pagerdutyChannelSchema,
  emailChannelSchema,
]);

export const alertRouteSchema = z.strictObject({
  /** Priorities the route takes; absent: every priority. */
  priorities: z.array(z.enum(priorities)).min(1).optional(),
  /** Kinds of message the route takes; absent: every kind. */
  kinds: z.array(z.enum(alertKinds)).min(1).optional(),
  channels: z.array(channelName).min(1),
});

export const alertRetrySchema = z.strictObject({
  /** Attempts per message and channel before it is marked failed (and `alert.failed` is emitted). */
  maxAttempts: integer(1, 100).default(12),
  initialBackoff: durationMs(1, 3_600_000).default(2000),
  maxBackoff: durationMs(1, 86_400_000).default(600_000),
  /** One delivery attempt is abandoned (and retried) after this. */
  timeout: durationMs(100, 120_000).default(10_000),
});

export const alertsConfigSchema = z
  .strictObject({
    channels: z.array(alertChannelSchema).default(() => []),
    routes: z.array(alertRouteSchema).default(() => []),
    retry: alertRetrySchema.prefault({}),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.channels.forEach((ch, i) => {
      if (seen.has(ch.name))
        ctx.addIssue({
          code: "custom",
          message: `channel name '${ch.name}' is used twice`,
          path: ["channels", i, "name"],
        });
      seen.add(ch.name);
    });
    c.routes.forEach((r, i) =>
      r.channels.forEach((name, j) => {
        if (!seen.has(name))
          ctx.addIssue({
            code: "custom",
            message: `no channel named '${name}' (alerts.channels names ${[...seen].join(", ") || "none"})`,
            path: ["routes", i, "channels", j],
          });
      }),
    );
    if (c.retry.maxBackoff < c.retry.initialBackoff)
      ctx.addIssue({
        code: "custom",
        message: "maxBackoff is shorter than initialBackoff",
        path: ["retry", "maxBackoff"],
      });
  });

export type AlertsConfig = z.output<typeof alertsConfigSchema>;
export type AlertChannelConfig = z.output<typeof alertChannelSchema>;
export type AlertRoute = z.output<typeof alertRouteSchema>;
