// Service-to-service authentication: service accounts and their client-credentials tokens, API
// keys, client certificates mapped to identities, and revocation of a subject everywhere.
export {
  createServiceAccounts,
  generateClientSecret,
  hashClientSecret,
  serviceAccountSchema,
  serviceAccountsSchema,
  type ServiceAccount,
  type ServiceAccounts,
} from "./accounts.ts";
export {
  ACCESS_TOKEN_AUDIENCE,
  createAccessTokens,
  type AccessTokens,
  type AccessTokensOptions,
  type IssuedAccessToken,
} from "./access-tokens.ts";
export {
  API_KEY_PATTERN,
  createApiKeys,
  type ApiKey,
  type ApiKeys,
  type ApiKeysOptions,
  type NewApiKey,
} from "./api-keys.ts";
export { readBearerToken } from "./bearer.ts";
export {
  createClientLockout,
  type ClientLockout,
  type ClientLockoutOptions,
  type LockoutPolicy,
} from "./lockout.ts";
export {
  certificateMappingSchema,
  createCertificateIdentities,
  type CertificateIdentities,
  type CertificateMapping,
} from "./mtls.ts";
export {
  createRevocations,
  MAX_CREDENTIAL_LIFETIME_MS,
  type Revocations,
  type RevocationsOptions,
} from "./revocations.ts";
export {
  createTokenEndpoint,
  TOKEN_PATH,
  type TokenEndpoint,
  type TokenEndpointOptions,
  type TokenRequest,
  type TokenResponse,
} from "./token-endpoint.ts";
