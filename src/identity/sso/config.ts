// The configuration of one OpenID Connect identity provider; several may be configured per deployment.
import { z } from "zod";

export const identityProviderSchema = z.strictObject({
  /** Referenced by routes; also the prefix of every subject from this provider (`<id>:<sub>`). */
  id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "expected a lower-case id such as 'corp' or 'google'"),
  /** Issuer URL; discovery reads `<issuer>/.well-known/openid-configuration`. HTTPS except on loopback. */
  issuer: z.url({ protocol: /^https?$/ }),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(["openid", "email", "profile"]),
  /** Claim (ID token or userinfo) that lists the user's groups. */
  groupsClaim: z.string().min(1).default("groups"),
  /** Extra authorization request parameters, e.g. `{ prompt: "select_account" }` or `{ hd: "example.com" }`. */
  authorizationParams: z.record(z.string(), z.string()).default({}),
  /** Refuse the login when the provider does not say the email is verified. */
  requireVerifiedEmail: z.boolean().default(true),
});

export type IdentityProviderConfig = z.output<typeof identityProviderSchema>;
export type IdentityProviderInput = z.input<typeof identityProviderSchema>;
