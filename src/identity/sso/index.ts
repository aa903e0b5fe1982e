// Single sign-on through OpenID Connect providers: login, refresh, logout, back-channel logout.
export { type IdentityProviderConfig, type IdentityProviderInput, identityProviderSchema } from "./config.ts";
export { LoginFailed, type LoginFailureReason, TooManyAttempts } from "./errors.ts";
export type { LockoutOptions } from "./lockout.ts";
export {
  createRelyingParty,
  type LoginResult,
  type LoginStart,
  type RelyingParty,
  type RelyingPartyOptions,
} from "./relying-party.ts";
export { safeReturnTo } from "./return-to.ts";
