// Short-lived JWT access tokens for service accounts (RFC 9068 profile), signed with the
// deployment's token keys and verified by every gateway replica locally. Verification follows the
// account as configured now: a removed account, a removed scope or a revoked subject takes effect
// on tokens already issued.
import type { Clock } from "../../platform/clock.ts";
import { Unauthorized } from "../../platform/errors.ts";
import {
  ACCESS_TOKEN_TYPE,
  CLOCK_TOLERANCE_S,
  checkLifetime,
  signJwt,
  verifyJwt,
  type TokenKeys,
} from "../tokens/index.ts";
import type { Identity } from "../types.ts";
import type { ServiceAccount, ServiceAccounts } from "./accounts.ts";
import type { Revocations } from "./revocations.ts";

/** The `aud` of access tokens: Rampart's gateway itself. */
export const ACCESS_TOKEN_AUDIENCE = "rampart";

export interface AccessTokensOptions {
  keys: TokenKeys;
  clock: Clock;
  /** The `iss` of access tokens: the gateway's public URL. */
  issuer: string;
  accounts: ServiceAccounts;
  revocations: Revocations;
  /** Default 600 s. */
  lifetimeSeconds?: number;
  /** Verified tokens remembered (default 10,000). */
  cacheSize?: number;
}

type VerifiedToken = Awaited<ReturnType<typeof verifyJwt>>;

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

export interface AccessTokens {
  /** Signs an access token for `account` limited to `scopes`. */
  issue(account: ServiceAccount, scopes: readonly string[]): Promise<IssuedAccessToken>;
  /** The service identity behind a bearer access token; Unauthorized saying why not. */
  verifyAccessToken(token: string): Promise<Identity>;
}

/** Issues and verifies service accounts' access tokens; see the module comment. */
export function createAccessTokens(opts: AccessTokensOptions): AccessTokens {
  const lifetime = opts.lifetimeSeconds ?? 600;
  checkLifetime(opts.keys, lifetime, "identity.serviceAuth.tokenLifetimeSeconds");
  const cacheSize = opts.cacheSize ?? 10_000;
  const jwtOptions = { typ: ACCESS_TOKEN_TYPE, issuer: opts.issuer, audience: ACCESS_TOKEN_AUDIENCE };

  // Checking a signature costs ~100 µs and a service sends the same token for minutes: remember
  // tokens that verified (in memory only), and recheck on each use what can change.
  const seen = new Map<string, VerifiedToken>();
  async function verified(token: string): Promise<VerifiedToken> {
    const hit = seen.get(token);
    if (hit) {
      if (opts.clock.now().getTime() / 1000 - CLOCK_TOLERANCE_S >= hit.exp) {
        seen.delete(token);
        throw new Unauthorized("token expired");
      }
      return hit;
    }
    const payload = await verifyJwt(opts.keys, opts.clock, token, jwtOptions);
    seen.set(token, payload);
    if (seen.size > cacheSize) seen.delete(seen.keys().next().value as string);
    return payload;
  }

  return {
    async issue(account, scopes) {
      const scope = scopes.join(" ");
      const { jwt } = await signJwt(
        opts.keys,
        opts.clock,
        { scope, client_id: account.name, kind: "service" },
        { ...jwtOptions, subject: account.name, lifetimeSeconds: lifetime },
      );
      return { accessToken: jwt, expiresIn: lifetime, scope };
    },
    async verifyAccessToken(token) {
      const payload = await verified(token);
      const account = opts.accounts.get(payload.sub);
      if (!account) throw new Unauthorized("service account no longer exists");
      if (opts.revocations.isRevoked(account.name, payload.iat * 1000))
        throw new Unauthorized("token revoked");
      const granted = typeof payload.scope === "string" ? payload.scope.split(" ") : [];
      const scope = granted.filter((s) => account.scopes.includes(s)).join(" ");
      return {
        kind: "service",
        subject: account.name,
        groups: [],
        roles: account.roles,
        claims: { ...payload, scope },
        credential: "access-token",
      };
    },
  };
}
