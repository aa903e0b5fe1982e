// Signing and verifying Rampart's own JWTs with the token keys. The `typ` header keeps the kinds
// apart: an identity assertion handed to an upstream can never be replayed as an access token.
import { randomUUID } from "node:crypto";
import { errors, jwtVerify, SignJWT, type JWTPayload } from "jose";
import type { Clock } from "../../platform/clock.ts";
import { Invalid, Unauthorized } from "../../platform/errors.ts";
import type { TokenKeys } from "./keys.ts";

/** Header `typ` of identity assertions for upstreams. */
export const ASSERTION_TYPE = "rampart-assertion+jwt";
/** Header `typ` of access tokens (RFC 9068). */
export const ACCESS_TOKEN_TYPE = "at+jwt";
/** Replicas' clocks differ a little; beyond this (seconds) a token is expired or not yet valid. */
export const CLOCK_TOLERANCE_S = 5;

export interface SignOptions {
  typ: string;
  issuer: string;
  audience: string;
  subject: string;
  lifetimeSeconds: number;
}

/** Signs `claims` with the current key; returns the compact JWT, its expiry (epoch s) and kid. */
export async function signJwt(
  keys: TokenKeys,
  clock: Clock,
  claims: Record<string, unknown>,
  o: SignOptions,
): Promise<{ jwt: string; exp: number; kid: string }> {
  checkLifetime(keys, o.lifetimeSeconds);
  const key = await keys.signingKey();
  const iat = Math.floor(clock.now().getTime() / 1000);
  const exp = iat + o.lifetimeSeconds;
  const jwt = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: o.typ })
    .setIssuer(o.issuer)
    .setSubject(o.subject)
    .setAudience(o.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { jwt, exp, kid: key.kid };
}

/** Rejects a lifetime a key rotation could cut short (a token must expire before its key retires). */
export function checkLifetime(keys: TokenKeys, seconds: number, where = "lifetimeSeconds"): void {
  if (!Number.isSafeInteger(seconds) || seconds < 1 || seconds * 1000 > keys.rotationPeriodMs)
    throw new Invalid(`must be whole seconds from 1 to the key rotation period`, where);
}

export interface VerifyOptions {
  typ: string;
  issuer: string;
  audience: string;
}

/** Verifies a Rampart JWT; throws Unauthorized saying why (never echoing the token). */
export async function verifyJwt(
  keys: TokenKeys,
  clock: Clock,
  token: string,
  o: VerifyOptions,
): Promise<JWTPayload & { sub: string; iat: number; exp: number; jti: string }> {
  // One spelling per token: base64url decoders ignore padding, whitespace and a signature's spare
  // low bits, so without this an altered string would still verify (and be a different cache key).
  if (!canonical(token)) throw new Unauthorized("malformed token");
  try {
    const { payload } = await jwtVerify(token, (header) => keys.verificationKey(header), {
      algorithms: [keys.algorithm],
      typ: o.typ,
      issuer: o.issuer,
      audience: o.audience,
      currentDate: clock.now(),
      clockTolerance: CLOCK_TOLERANCE_S,
      maxTokenAge: Math.floor(keys.rotationPeriodMs / 1000) + CLOCK_TOLERANCE_S,
      requiredClaims: ["sub", "iat", "nbf", "exp", "jti"],
    });
    return payload as JWTPayload & { sub: string; iat: number; exp: number; jti: string };
  } catch (err) {
    throw new Unauthorized(reason(err));
  }
}

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** Three unpadded base64url parts, each the exact encoding of the bytes it decodes to. */
function canonical(token: string): boolean {
  return (
    COMPACT.test(token) &&
    token.split(".").every((part) => Buffer.from(part, "base64url").toString("base64url") === part)
  );
}

function reason(err: unknown): string {
  if (err instanceof Unauthorized) return err.message;
  if (err instanceof errors.JWTExpired) return "token expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf" || err.claim === "iat") return "token not yet valid";
    return `token ${err.claim} claim rejected`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "token signature invalid";
  return "malformed token";
}
