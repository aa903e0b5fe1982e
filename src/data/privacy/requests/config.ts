// rampart.yaml's `privacy.requests:` section: deadlines, reminders, who must approve, the email
// code, the calling apps' token keys, the public page and the mail the requester receives.
import { z } from "zod";
import { requestKindNames } from "./states.ts";

const appKey = z
  .strictObject({
    /** A name for messages and the audit trail. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "expected a lower-case name such as 'shop'"),
    issuer: z.string().min(1),
    audience: z.string().min(1),
    /** Where the app publishes its keys (JWKS), or… */
    jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** …its public key as PEM (SPKI). */
    publicKey: z.string().includes("-----BEGIN PUBLIC KEY-----").optional(),
    algorithms: z
      .array(z.enum(["RS256", "PS256", "ES256", "ES384", "EdDSA"]))
      .min(1)
      .default(["RS256", "ES256", "EdDSA"]),
    /** Identity type the `sub` claim becomes for the engine (e.g. user_id); absent: `sub` is not used. */
    subjectIdentity: z.string().min(1).max(64).optional(),
    /** Tokens older than this (by `iat`) are refused. */
    maxAgeSeconds: z.number().int().min(10).max(3600).default(600),
  })
  .refine((k) => (k.jwksUrl === undefined) !== (k.publicKey === undefined), {
    message: "give exactly one of jwksUrl or publicKey",
  });

const approval = z.strictObject(
  Object.fromEntries(requestKindNames.map((k) => [k, z.boolean().optional()])) as Record<
    (typeof requestKindNames)[number],
    z.ZodOptional<z.ZodBoolean>
  >,
);

export const privacyRequestsConfigSchema = z.strictObject({
  deadlines: z
    .strictObject({
      /** GDPR Art. 12(3): one month from receipt. */
      responseMonths: z.number().int().min(1).max(3).default(1),
      /** Art. 12(3): extendable by two further months, with reasons. */
      extensionMonths: z.number().int().min(0).max(2).default(2),
      /**
       * DPDP grievances. The Act (s.13) leaves the period to the Rules; the 90-day figure comes
       * from secondary summaries of the DPDP Rules 2025, so it is a default to check, not a quote.
       */
      grievanceDays: z.number().int().min(1).max(365).default(90),
      /** Days before due when operators are reminded (each once). */
      remindDays: z.array(z.number().int().min(1).max(90)).max(10).default([7, 1]),
      /** A request whose requester never proves who they are is cancelled after this many days. */
      unverifiedDays: z.number().int().min(1).max(90).default(7),
    })
    .prefault({}),
  /** Kinds a person must approve before the engine runs; the rest run once verified. */
  approval: approval.default({}),
  otp: z
    .strictObject({
      digits: z.number().int().min(6).max(10).default(6),
      ttlMinutes: z.number().int().min(1).max(60).default(15),
      maxAttempts: z.number().int().min(1).max(10).default(5),
      /** Codes sent per request (the first included). */
      maxSends: z.number().int().min(1).max(10).default(3),
      resendAfterSeconds: z.number().int().min(0).max(3600).default(60),
    })
    .prefault({}),
  /** Apps that may vouch for their signed-in user with a signed token (JWT). */
  appTokens: z.array(appKey).max(20).default([]),
  /** Engine runs retried after a failure, with a growing pause. */
  maxAttempts: z.number().int().min(1).max(20).default(5),
  /** Serve the public page at GET /privacy/request. */
  publicPage: z.boolean().default(true),
  /** Public intakes per IP: a bucket of `burst` refilled at `perMinute`; codes and status checks have their own. */
  rateLimit: z
    .strictObject({
      burst: z.number().int().min(1).max(1000).default(5),
      perMinute: z.number().min(0.1).max(1000).default(2),
      verifyBurst: z.number().int().min(1).max(1000).default(10),
      verifyPerMinute: z.number().min(0.1).max(1000).default(5),
    })
    .prefault({}),
  /** Base URL people reach the server at, for links in mail (downloads); absent: no links. */
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Days a download link stays valid. */
  downloadDays: z.number().int().min(1).max(30).default(7),
  /** Organisation name in mail and on the page. */
  organisation: z.string().min(1).max(200).default("Rampart"),
  /** Where reminders and new requests are also mailed (besides events); absent: events only. */
  operatorEmail: z.email().optional(),
});
export type PrivacyRequestsConfig = z.output<typeof privacyRequestsConfigSchema>;
export type AppTokenKey = PrivacyRequestsConfig["appTokens"][number];

/** Kinds that need a person's approval unless configured otherwise: erasure and rectification change data; nominees always. */
export function needsApproval(c: PrivacyRequestsConfig, kind: (typeof requestKindNames)[number]): boolean {
  if (kind === "nominee") return true; // DPDP s.14: the evidence is always checked by a person
  const set = c.approval[kind];
  return set ?? (kind === "erasure" || kind === "rectification");
}
