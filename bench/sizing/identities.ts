// Realistic signed-in people for the session sizing: the identity a relying party builds from an
// OIDC login (ID token claims merged with userinfo) and the token set it keeps, with tokens as
// long as a typical provider issues (an RS256 access token of ~900 bytes, a refresh token, an ID
// token). Random bytes stand in for signatures, so nothing here verifies; only sizes matter.
import { randomBytes } from "node:crypto";
import type { NewSession } from "../../src/identity/sessions/store.ts";

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

/** A compact JWS of the given claims with a 256-byte (RS256) signature of random bytes. */
function jwt(claims: Record<string, unknown>): string {
  return `${b64({ alg: "RS256", typ: "JWT", kid: "k-2026-11" })}.${b64(claims)}.${randomBytes(256).toString("base64url")}`;
}

const GROUPS = ["engineering", "platform", "oncall", "eu-staff", "security-champions", "finance", "support"];
const ISSUER = "https://login.example.com/realms/corp";

/** Person number `i`, signed in at `now` (epoch seconds). */
export function personSession(i: number, now = Math.floor(Date.now() / 1000)): NewSession {
  const sub = `a3f${i.toString(16).padStart(5, "0")}-5c1e-4b7a-9d2f-${randomBytes(6).toString("hex")}`;
  const email = `person.${i}@corp.example.com`;
  const groups = GROUPS.filter((_, k) => (i + k) % 3 !== 0);
  const sid = randomBytes(16).toString("hex");
  const base = { iss: ISSUER, sub, iat: now, exp: now + 300, auth_time: now, sid };
  const idClaims = {
    ...base,
    aud: "rampart",
    azp: "rampart",
    nonce: randomBytes(16).toString("base64url"),
    at_hash: randomBytes(16).toString("base64url"),
    email,
    email_verified: true,
    name: `Person ${i} Example`,
    given_name: "Person",
    family_name: `${i} Example`,
    preferred_username: `person.${i}`,
    locale: "en-GB",
    groups,
  };
  const accessToken = jwt({
    ...base,
    aud: ["rampart", "account"],
    typ: "Bearer",
    azp: "rampart",
    jti: randomBytes(16).toString("hex"),
    scope: "openid email profile groups",
    email,
    email_verified: true,
    preferred_username: `person.${i}`,
  });
  const refreshToken = jwt({
    iss: ISSUER,
    sub,
    aud: ISSUER,
    iat: now,
    exp: now + 1800,
    typ: "Refresh",
    azp: "rampart",
    sid,
    jti: randomBytes(16).toString("hex"),
    scope: "openid email profile groups offline_access",
  });
  const { iss: _iss, aud: _aud, exp: _exp, iat: _iat, nonce: _n, at_hash: _h, ...kept } = idClaims;
  return {
    provider: "corp",
    sid,
    tokens: { accessToken, refreshToken, idToken: jwt(idClaims), expiresAt: (now + 300) * 1000 },
    identity: {
      kind: "user",
      subject: `corp:${sub}`,
      provider: "corp",
      email,
      emailVerified: true,
      name: idClaims.name,
      groups,
      roles: [],
      claims: kept,
      credential: "session",
    },
  };
}
