// OpenID Connect relying party for the gateway: authorization code + PKCE with state and nonce,
// server-side sessions, refresh single-flight across replicas, RP-initiated and back-channel
// logout. Framework-free: the gateway passes URLs and headers in and writes what comes back.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import * as oidc from "openid-client";
import type { Logger } from "pino";
import { type Clock, systemClock } from "../../platform/clock.ts";
import { Invalid, Unavailable } from "../../platform/errors.ts";
import { type EventRef, newEvent, type NewEvent, type SecurityEvent } from "../../platform/events/types.ts";
import type { HotState } from "../../platform/hotstate/index.ts";
import {
  clearCookie,
  loginCookieName,
  readCookie,
  type Session,
  type SessionStore,
  sessionCookieName,
  setCookie,
  type TokenSet,
} from "../sessions/index.ts";
import type { Identity } from "../types.ts";
import { type IdentityProviderConfig, type IdentityProviderInput, identityProviderSchema } from "./config.ts";
import { LoginFailed, type LoginFailureReason } from "./errors.ts";
import { createLockout, type LockoutOptions } from "./lockout.ts";
import { safeReturnTo } from "./return-to.ts";

export interface RelyingPartyOptions {
  providers: IdentityProviderInput[];
  sessions: SessionStore;
  hotState: HotState;
  clock?: Clock;
  emit?: (event: SecurityEvent) => void;
  logger?: Logger;
  /** Path of the OIDC callback on every protected origin (default `/.rampart/sso/callback`). */
  callbackPath?: string;
  /** How long a started login may take (default 10 min). */
  loginTtlMs?: number;
  lockout?: LockoutOptions;
  /** Lifetime of the refresh lease; renewed every third of it while the provider answers (default 5 s). */
  refreshLeaseMs?: number;
  /** How long a replica that lost the refresh race waits for the winner's tokens (default 10 s). */
  refreshWaitMs?: number;
}

export interface LoginStart {
  /** Send the browser here (the provider's authorization endpoint). */
  redirectUrl: string;
  /** Set-Cookie value binding the callback to this browser. */
  setCookie: string;
}

export interface LoginResult {
  session: Session;
  /** Set-Cookie values: the session cookie, and the login cookie cleared. */
  setCookies: string[];
  /** Path on this origin to send the browser back to. */
  returnTo: string;
}

export interface RelyingParty {
  /** Starts a login at `provider`; `origin` is the protected site (`https://grafana.example.com`). */
  beginLogin(req: { provider: string; origin: string; returnTo?: string; ip: string }): Promise<LoginStart>;
  /** Completes a login from the callback URL and the request's Cookie header; throws `LoginFailed` or `TooManyAttempts`. */
  finishLogin(req: {
    callbackUrl: string;
    cookieHeader: string | undefined;
    ip: string;
  }): Promise<LoginResult>;
  /** New tokens for `session`, refreshed once across all replicas; null when the refresh ended the session. */
  refresh(session: Session): Promise<Session | null>;
  /** Ends the session here and returns where to send the browser (the provider's logout endpoint when it has one). */
  logout(session: Session, postLogoutRedirect?: string): Promise<{ redirectUrl: string }>;
  /** Validates a provider's back-channel logout token and ends the sessions it names; returns how many. */
  backChannelLogout(logoutToken: string): Promise<number>;
}

interface LoginRecord {
  provider: string;
  verifier: string;
  nonce: string;
  returnTo: string;
  redirectUri: string;
}

const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";
// Only asymmetric algorithms: an HMAC "signed" with a provider's public key must never verify.
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^EdDSA$|^Ed25519$/;
// Claims that describe the token rather than the user.
const TOKEN_CLAIMS = new Set([
  "nonce",
  "at_hash",
  "c_hash",
  "s_hash",
  "exp",
  "iat",
  "nbf",
  "jti",
  "aud",
  "azp",
  "sid",
]);

const sha256 = (s: string): Buffer => createHash("sha256").update(s).digest();
const hex = (s: string): string => sha256(s).toString("hex");

/** Creates the relying party for the configured identity providers. */
export function createRelyingParty(opts: RelyingPartyOptions): RelyingParty {
  const providers = new Map<string, IdentityProviderConfig>();
  for (const [i, input] of opts.providers.entries()) {
    const parsed = identityProviderSchema.safeParse(input);
    if (!parsed.success) throw new Invalid(parsed.error.issues[0]?.message ?? "invalid", `providers[${i}]`);
    if (providers.has(parsed.data.id))
      throw new Invalid(`duplicate id ${parsed.data.id}`, `providers[${i}].id`);
    providers.set(parsed.data.id, parsed.data);
  }
  const { sessions, hotState } = opts;
  const clock = opts.clock ?? systemClock;
  const callbackPath = opts.callbackPath ?? "/.rampart/sso/callback";
  const loginTtlMs = opts.loginTtlMs ?? 10 * 60_000;
  const leaseMs = opts.refreshLeaseMs ?? 5000;
  const waitMs = opts.refreshWaitMs ?? 10_000;
  const lockout = createLockout(hotState, opts.lockout);
  const discovered = new Map<string, Promise<oidc.Configuration>>();
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();

  function emit(e: NewEvent): void {
    opts.emit?.(newEvent(e, clock.now()));
  }

  function provider(id: string): IdentityProviderConfig {
    const p = providers.get(id);
    if (!p) throw new Invalid(`unknown identity provider ${JSON.stringify(id)}`, "provider");
    return p;
  }

  /** Discovery once per provider; a failure is not cached, so the next login tries again. */
  function discover(p: IdentityProviderConfig): Promise<oidc.Configuration> {
    let config = discovered.get(p.id);
    if (!config) {
      const issuer = new URL(p.issuer);
      const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(issuer.hostname);
      config = oidc
        .discovery(issuer, p.clientId, undefined, oidc.ClientSecretBasic(p.clientSecret), {
          execute: loopback && issuer.protocol === "http:" ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
        })
        .catch((err: unknown) => {
          discovered.delete(p.id);
          throw new Unavailable(`identity provider ${p.id}: discovery failed (${(err as Error).message})`);
        });
      discovered.set(p.id, config);
    }
    return config;
  }

  function buildIdentity(p: IdentityProviderConfig, idClaims: JWTPayload, userinfo: object): Identity {
    const all: Record<string, unknown> = { ...idClaims, ...userinfo };
    const claims: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(all)) if (!TOKEN_CLAIMS.has(k)) claims[k] = v;
    const groups = claims[p.groupsClaim];
    return {
      kind: "user",
      subject: `${p.id}:${String(idClaims.sub)}`,
      provider: p.id,
      email: typeof claims.email === "string" ? claims.email : undefined,
      // Some providers send the string "true".
      emailVerified: claims.email_verified === true || claims.email_verified === "true",
      name: typeof claims.name === "string" ? claims.name : undefined,
      groups: Array.isArray(groups)
        ? groups.filter((g): g is string => typeof g === "string")
        : typeof groups === "string"
          ? [groups]
          : [],
      roles: [],
      claims,
      credential: "session",
    };
  }

  async function userinfo(config: oidc.Configuration, accessToken: string, sub: string): Promise<object> {
    if (!config.serverMetadata().userinfo_endpoint) return {};
    return oidc.fetchUserInfo(config, accessToken, sub);
  }

  function tokenSet(t: oidc.TokenEndpointResponse, previous?: TokenSet): TokenSet {
    return {
      accessToken: t.access_token,
      refreshToken: t.refresh_token ?? previous?.refreshToken,
      idToken: t.id_token ?? previous?.idToken,
      expiresAt: t.expires_in === undefined ? undefined : clock.now().getTime() + t.expires_in * 1000,
    };
  }

  async function fail(
    ip: string,
    providerId: string | undefined,
    reason: LoginFailureReason,
    detail?: string,
  ) {
    await lockout.failed(ip);
    emit({
      type: "identity.login_failed",
      actor: { kind: "ip", id: ip },
      severity: "low",
      outcome: "failure",
      data: { reason, ...(providerId ? { provider: providerId } : {}) },
    });
    return new LoginFailed(reason, detail);
  }

  /** Maps openid-client's errors to a failure reason; undefined for errors that are not the login's fault. */
  function reasonOf(err: unknown): { reason: LoginFailureReason; detail?: string } | undefined {
    if (err instanceof oidc.AuthorizationResponseError) {
      // The error code comes from the callback URL, i.e. from whoever sent the browser: keep it only if it is tame.
      return { reason: "idp_error", detail: /^[a-z_]{1,64}$/.test(err.error) ? err.error : undefined };
    }
    if (err instanceof oidc.ResponseBodyError) {
      return err.error === "invalid_grant"
        ? { reason: "code_rejected" }
        : { reason: "idp_error", detail: err.error };
    }
    if (err instanceof oidc.ClientError) {
      // openid-client wraps oauth4webapi's error, which names the claim that did not match.
      const claim = (err.cause as { cause?: { claim?: unknown } } | undefined)?.cause?.claim;
      return claim === "nonce"
        ? { reason: "nonce_mismatch" }
        : { reason: "invalid_response", detail: err.code };
    }
    return undefined;
  }

  async function endSession(session: Session, reason: string): Promise<null> {
    await sessions.destroy(session.handle);
    emit({
      type: "identity.refresh_failed",
      actor: { kind: "user", id: session.identity.subject },
      severity: "low",
      outcome: "failure",
      data: { provider: session.provider, reason },
    });
    return null;
  }

  async function refreshHoldingLease(
    session: Session,
    leaseKey: string,
    lease: string,
  ): Promise<Session | null> {
    const renew = setInterval(() => {
      hotState.compareAndSet(leaseKey, lease, lease, leaseMs).catch(() => {});
    }, leaseMs / 3);
    try {
      // Another replica may have refreshed while we waited for the lease.
      const current = await sessions.read(session.handle);
      if (!current || current.tokens.accessToken !== session.tokens.accessToken) return current;
      const p = providers.get(current.provider);
      if (!p) return endSession(current, "provider_removed");
      if (!current.tokens.refreshToken) return endSession(current, "no_refresh_token");
      const config = await discover(p);
      let t: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      try {
        t = await oidc.refreshTokenGrant(config, current.tokens.refreshToken);
      } catch (err) {
        const why = reasonOf(err);
        if (why) return endSession(current, why.detail ?? why.reason);
        throw new Unavailable(`identity provider ${p.id}: refresh failed (${(err as Error).message})`);
      }
      const oldSub = current.identity.subject;
      const idClaims =
        t.claims() ?? (current.tokens.idToken ? decodeJwt(current.tokens.idToken) : { sub: "" });
      if (`${p.id}:${String(idClaims.sub)}` !== oldSub) return endSession(current, "subject_changed");
      // Fresh userinfo keeps groups current: someone removed from a group at the provider loses it here.
      let identity = current.identity;
      try {
        identity = buildIdentity(p, idClaims, await userinfo(config, t.access_token, String(idClaims.sub)));
      } catch (err) {
        opts.logger?.warn({ provider: p.id, err: (err as Error).message }, "userinfo after refresh failed");
      }
      return await sessions.replace(current.handle, (s) => ({
        ...s,
        identity: { ...identity, roles: s.identity.roles },
        tokens: tokenSet(t, s.tokens),
      }));
    } finally {
      clearInterval(renew);
      await hotState.compareAndSet(leaseKey, lease, null).catch(() => {});
    }
  }

  return {
    async beginLogin({ provider: id, origin, returnTo, ip }) {
      await lockout.check(ip);
      const p = provider(id);
      let site: URL;
      try {
        site = new URL(origin);
      } catch {
        throw new Invalid("must be an origin such as https://app.example.com", "origin");
      }
      if (site.origin !== origin || !/^https?:$/.test(site.protocol)) {
        throw new Invalid("must be an origin such as https://app.example.com", "origin");
      }
      const record: LoginRecord = {
        provider: p.id,
        verifier: oidc.randomPKCECodeVerifier(),
        nonce: oidc.randomNonce(),
        returnTo: safeReturnTo(returnTo, origin),
        redirectUri: `${origin}${callbackPath}`,
      };
      const config = await discover(p);
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, {
        ...p.authorizationParams,
        response_type: "code",
        redirect_uri: record.redirectUri,
        scope: p.scopes.join(" "),
        code_challenge: await oidc.calculatePKCECodeChallenge(record.verifier),
        code_challenge_method: "S256",
        state,
        nonce: record.nonce,
      });
      await hotState.set(`sso:login:${hex(state)}`, JSON.stringify(record), { ttlMs: loginTtlMs });
      const secure = site.protocol === "https:";
      return {
        redirectUrl: url.href,
        setCookie: setCookie(loginCookieName(secure), state, { secure, maxAgeS: loginTtlMs / 1000 }),
      };
    },

    async finishLogin({ callbackUrl, cookieHeader, ip }) {
      await lockout.check(ip);
      let url: URL;
      try {
        url = new URL(callbackUrl);
      } catch {
        throw await fail(ip, undefined, "state_mismatch");
      }
      const secure = url.protocol === "https:";
      const state = url.searchParams.get("state");
      const bound = readCookie(cookieHeader, loginCookieName(secure));
      // The state in the URL must be the one this browser was given: a callback forged for, or
      // stolen from, another browser stops here.
      if (!state || !bound || !timingSafeEqual(sha256(state), sha256(bound))) {
        throw await fail(ip, undefined, "state_mismatch");
      }
      const key = `sso:login:${hex(state)}`;
      const raw = await hotState.get(key);
      // Taking the record deletes it, so a callback can be used once, even on two replicas at once.
      if (raw === null || !(await hotState.compareAndSet(key, raw, null))) {
        throw await fail(ip, undefined, "login_expired");
      }
      const record = JSON.parse(raw) as LoginRecord;
      if (`${url.origin}${url.pathname}` !== record.redirectUri)
        throw await fail(ip, record.provider, "state_mismatch");
      const p = provider(record.provider);
      const config = await discover(p);
      let t: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
      let info: object;
      try {
        t = await oidc.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: record.verifier,
          expectedState: state,
          expectedNonce: record.nonce,
          idTokenExpected: true,
        });
        info = await userinfo(config, t.access_token, String(t.claims()?.sub));
      } catch (err) {
        const why = reasonOf(err);
        if (why) throw await fail(ip, p.id, why.reason, why.detail);
        throw new Unavailable(`identity provider ${p.id}: token request failed (${(err as Error).message})`);
      }
      const idClaims = t.claims() as JWTPayload;
      const identity = buildIdentity(p, idClaims, info);
      if (p.requireVerifiedEmail && identity.email !== undefined && !identity.emailVerified) {
        throw await fail(ip, p.id, "email_unverified");
      }
      const { id, session } = await sessions.create({
        identity,
        provider: p.id,
        tokens: tokenSet(t),
        sid: typeof idClaims.sid === "string" ? idClaims.sid : undefined,
      });
      await lockout.succeeded(ip);
      emit({
        type: "identity.login",
        actor: { kind: "user", id: identity.subject },
        data: { provider: p.id, ip },
        // Who the subject key stands for, sealed under that person's own audit key (crypto-shredding).
        ...(identity.email || identity.name ? { personal: personalOf(identity) } : {}),
      });
      const maxAgeS = (session.expiresAt - clock.now().getTime()) / 1000;
      return {
        session,
        setCookies: [
          setCookie(sessionCookieName(secure), id, { secure, maxAgeS }),
          clearCookie(loginCookieName(secure), secure),
        ],
        returnTo: record.returnTo,
      };
    },

    async refresh(session) {
      const leaseKey = `sso:refresh:${session.handle}`;
      const deadline = Date.now() + waitMs;
      for (;;) {
        const lease = randomBytes(16).toString("hex");
        if (await hotState.set(leaseKey, lease, { ttlMs: leaseMs, ifAbsent: true })) {
          return refreshHoldingLease(session, leaseKey, lease);
        }
        // Another replica holds the lease: wait for its tokens rather than spend the refresh token twice.
        for (;;) {
          if (Date.now() > deadline)
            throw new Unavailable("session refresh by another replica is taking too long");
          await sleep(25);
          const current = await sessions.read(session.handle);
          if (!current || current.tokens.accessToken !== session.tokens.accessToken) return current;
          // The holder gave up or died without refreshing: try to take the lease ourselves.
          if ((await hotState.get(leaseKey)) === null) break;
        }
      }
    },

    async logout(session, postLogoutRedirect) {
      if (postLogoutRedirect !== undefined && !/^https?:\/\//.test(postLogoutRedirect)) {
        throw new Invalid("must be an absolute http(s) URL", "postLogoutRedirect");
      }
      await sessions.destroy(session.handle);
      emit({
        type: "identity.logout",
        actor: { kind: "user", id: session.identity.subject },
        data: { provider: session.provider, via: "rp" },
      });
      const fallback = { redirectUrl: postLogoutRedirect ?? "/" };
      const p = providers.get(session.provider);
      if (!p) return fallback;
      let config: oidc.Configuration;
      try {
        config = await discover(p);
      } catch {
        return fallback; // the local session is gone; the provider's own session outlives it
      }
      if (!config.serverMetadata().end_session_endpoint) return fallback;
      const params: Record<string, string> = { client_id: p.clientId };
      if (session.tokens.idToken) params.id_token_hint = session.tokens.idToken;
      if (postLogoutRedirect) params.post_logout_redirect_uri = postLogoutRedirect;
      return { redirectUrl: oidc.buildEndSessionUrl(config, params).href };
    },

    async backChannelLogout(logoutToken) {
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(logoutToken);
      } catch {
        throw new Invalid("malformed logout token", "logout_token");
      }
      const audience = Array.isArray(unverified.aud) ? unverified.aud : [unverified.aud];
      // Chosen by the unverified claims, then verified with that provider's keys only.
      const issuer = String(unverified.iss).replace(/\/$/, "");
      const p = [...providers.values()].find(
        (c) => audience.includes(c.clientId) && c.issuer.replace(/\/$/, "") === issuer,
      );
      if (!p) throw new Invalid("logout token from an unknown issuer or audience", "logout_token");
      const config = await discover(p);
      const meta = config.serverMetadata();
      if (!meta.jwks_uri) throw new Unavailable(`identity provider ${p.id} publishes no jwks_uri`);
      let keys = keySets.get(p.id);
      if (!keys) {
        keys = createRemoteJWKSet(new URL(meta.jwks_uri));
        keySets.set(p.id, keys);
      }
      const algorithms = (meta.id_token_signing_alg_values_supported ?? ["RS256"]).filter((a) =>
        ASYMMETRIC.test(a),
      );
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(logoutToken, keys, {
          issuer: meta.issuer,
          audience: p.clientId,
          algorithms,
          requiredClaims: ["iat", "jti", "events"],
          maxTokenAge: "5 min",
          clockTolerance: 30,
          currentDate: clock.now(),
        }));
      } catch (err) {
        const code = err instanceof joseErrors.JOSEError ? err.code : "ERR_INVALID";
        throw new Invalid(`logout token rejected (${code})`, "logout_token");
      }
      const events = payload.events as Record<string, unknown> | undefined;
      const event = events?.[BACKCHANNEL_EVENT];
      if (typeof event !== "object" || event === null)
        throw new Invalid("not a back-channel logout token", "logout_token");
      if ("nonce" in payload) throw new Invalid("a logout token must not carry a nonce", "logout_token");
      const sid = typeof payload.sid === "string" ? payload.sid : undefined;
      const sub = typeof payload.sub === "string" ? payload.sub : undefined;
      if (!sid && !sub) throw new Invalid("logout token names neither sid nor sub", "logout_token");
      const remember = Math.max(10 * 60_000, ((payload.exp ?? 0) * 1000 || 0) - clock.now().getTime());
      const fresh = await hotState.set(
        `sso:logout-jti:${hex(`${meta.issuer}\n${String(payload.jti)}`)}`,
        "1",
        {
          ttlMs: Math.ceil(remember),
          ifAbsent: true,
        },
      );
      if (!fresh) throw new Invalid("replayed logout token", "logout_token");
      const n = sid
        ? await sessions.destroyBySid(p.id, sid)
        : await sessions.revokeSubject(`${p.id}:${sub}`, "backchannel_logout");
      const actor: EventRef = sub ? { kind: "user", id: `${p.id}:${sub}` } : { kind: "provider", id: p.id };
      emit({ type: "identity.logout", actor, data: { provider: p.id, via: "back-channel", sessions: n } });
      return n;
    },
  };
}

/** The signed-in person's email and name, for the audit log's sealed `personal` details. */
function personalOf(identity: { email?: string; name?: string }): Record<string, string> {
  return {
    ...(identity.email ? { email: identity.email.slice(0, 2048) } : {}),
    ...(identity.name ? { name: identity.name.slice(0, 2048) } : {}),
  };
}
