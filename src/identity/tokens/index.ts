// Rampart's own signed tokens: the derived, rotating key set (and its JWKS) and the identity
// assertions the gateway sends to upstreams.
export {
  createTokenKeys,
  type SigningAlgorithm,
  type SigningKey,
  type TokenKeys,
  type TokenKeysOptions,
} from "./keys.ts";
export {
  ACCESS_TOKEN_TYPE,
  ASSERTION_TYPE,
  CLOCK_TOLERANCE_S,
  checkLifetime,
  signJwt,
  verifyJwt,
  type SignOptions,
  type VerifyOptions,
} from "./jwt.ts";
export {
  ASSERTION_HEADER,
  EMAIL_HEADER,
  GROUPS_HEADER,
  RAMPART_HEADER_PREFIX,
  USER_HEADER,
  createAssertionSigner,
  groupsHeaderValue,
  headerValue,
  headersToStrip,
  type AssertionOptions,
  type AssertionSigner,
  type AssertionSignerOptions,
} from "./assertion.ts";

/** Where the gateway serves {@link TokenKeys.jwks}. */
export const JWKS_PATH = "/.well-known/rampart/jwks.json";
