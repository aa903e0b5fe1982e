// The identity layer's part of rampart.yaml: `identity`, `rbac` and `jit` at the top, `auth` and
// `policy` on routes. The config module composes these (zod only; nothing here reads config).
import { z } from "zod";
import { jitConfigSchema } from "./jit/policy.ts";
import { routePolicySchema } from "./policy/schema.ts";
import { rbacConfigSchema } from "./rbac/schema.ts";
import { serviceAccountsSchema } from "./service-auth/accounts.ts";
import { certificateMappingSchema } from "./service-auth/mtls.ts";
import { identityProviderSchema } from "./sso/config.ts";

export { jitConfigSchema, rbacConfigSchema, routePolicySchema };

/** The credentials a route accepts. */
export const credentialSchema = z.enum(["session", "access-token", "api-key", "client-certificate"]);

export const identityConfigSchema = z.strictObject({
  /** OpenID Connect providers; routes pick one by id for browser sign-in. */
  providers: z.array(identityProviderSchema).default(() => []),
  sessions: z
    .strictObject({
      idleTimeoutMinutes: z
        .number()
        .int()
        .min(1)
        .max(24 * 60)
        .default(30),
      absoluteTimeoutHours: z
        .number()
        .int()
        .min(1)
        .max(30 * 24)
        .default(12),
    })
    .prefault({}),
  tokens: z
    .strictObject({
      /**
       * Derives the keys that sign identity assertions and access tokens; give every replica the
       * same one (e.g. `${env:RAMPART_IDENTITY_SECRET}`). Absent: a random one per process, so
       * tokens and assertions are good on that process only.
       */
      secret: z.string().min(32, { error: "secret must be at least 32 characters" }).optional(),
      algorithm: z.enum(["EdDSA", "ES256"]).default("EdDSA"),
      rotationHours: z
        .number()
        .int()
        .min(1)
        .max(24 * 90)
        .default(24),
    })
    .prefault({}),
  serviceAccounts: serviceAccountsSchema.default(() => []),
  clientCertificates: z.array(certificateMappingSchema).default(() => []),
});

/** A route's authentication: who must be known before the policy runs. */
export const routeAuthSchema = z.strictObject({
  /** The identity provider browsers sign in with; absent: no browser sign-in on this route. */
  provider: z.string().min(1).optional(),
  /** false: requests without a credential go on anonymous, and the policy decides. */
  required: z.boolean().default(true),
  /** Credentials accepted here (default: all but client certificates unless mapped). */
  accept: z
    .array(credentialSchema)
    .min(1)
    .default(["session", "access-token", "api-key", "client-certificate"]),
  /** Tell the upstream who is asking: a signed assertion and X-Rampart-User/-Email/-Groups. */
  identityHeaders: z.boolean().default(true),
});

export type IdentityConfig = z.output<typeof identityConfigSchema>;
export type RouteAuth = z.output<typeof routeAuthSchema>;
