// Verification by the calling app: an app where the person is signed in mints a short-lived JWT
// for them; we check it against the app's configured key (JWKS URL or PEM), issuer, audience and
// age, and take `email` (and `sub`, when configured) as the identity.
import {
  type CryptoKey,
  type FlattenedJWSInput,
  createRemoteJWKSet,
  decodeJwt,
  importSPKI,
  type JWTVerifyGetKey,
  jwtVerify,
  type JWTHeaderParameters,
} from "jose";
import type { Clock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import type { AppTokenKey } from "./config.ts";

export interface AppIdentity {
  app: string;
  email: string | undefined;
  identities: Record<string, string>;
}

export interface AppTokenVerifier {
  verify(token: string): Promise<AppIdentity>;
}

/** A verifier over the configured apps; remote key sets are fetched once and cached by jose. */
export function createAppTokenVerifier(apps: () => readonly AppTokenKey[], clock: Clock): AppTokenVerifier {
  const remote = new Map<string, JWTVerifyGetKey>();
  const pems = new Map<string, CryptoKey>();

  const keyFor = (app: AppTokenKey) => async (header: JWTHeaderParameters, token: FlattenedJWSInput) => {
    if (app.jwksUrl) {
      let set = remote.get(app.jwksUrl);
      if (!set) remote.set(app.jwksUrl, (set = createRemoteJWKSet(new URL(app.jwksUrl))));
      return set(header, token);
    }
    const cacheKey = `${header.alg}\n${app.publicKey}`;
    let key = pems.get(cacheKey);
    if (!key) pems.set(cacheKey, (key = await importSPKI(app.publicKey as string, header.alg)));
    return key;
  };

  return {
    async verify(token) {
      // Only a hint which app to try: nothing from the unverified payload is trusted.
      let issuer: string | undefined;
      try {
        issuer = decodeJwt(token).iss;
      } catch {
        throw new Invalid("the app token is not a JWT", "appToken");
      }
      const app = apps().find((a) => a.issuer === issuer);
      if (!app) throw new Invalid("the app token's issuer is not a configured app", "appToken");
      try {
        const { payload } = await jwtVerify(token, keyFor(app), {
          issuer: app.issuer,
          audience: app.audience,
          algorithms: app.algorithms,
          maxTokenAge: app.maxAgeSeconds,
          requiredClaims: ["iat", "exp"],
          currentDate: clock.now(),
        });
        const identities: Record<string, string> = {};
        const email =
          typeof payload.email === "string" && payload.email.length <= 254
            ? payload.email.trim().toLowerCase()
            : undefined;
        if (email) identities.email = email;
        if (app.subjectIdentity && typeof payload.sub === "string" && payload.sub.length <= 256)
          identities[app.subjectIdentity] = payload.sub;
        if (Object.keys(identities).length === 0)
          throw new Invalid(`the app token of '${app.name}' names no identity (email or sub)`, "appToken");
        return { app: app.name, email, identities };
      } catch (err) {
        if (err instanceof Invalid) throw err;
        // jose's code (ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED…) says why without the token.
        const code = (err as { code?: string }).code ?? "invalid";
        throw new Invalid(`the app token of '${app.name}' was refused (${code})`, "appToken");
      }
    },
  };
}
