// The gateway's identity step: who is asking (session, access token, API key, client
// certificate), with which roles (RBAC bindings and just-in-time grants), and whether the route's
// policy lets them in. Rampart's own endpoints on every protected origin (SSO callback, logout,
// token endpoint, JWKS) are answered through it by endpoints.ts.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { Clock } from "../platform/clock.ts";
import { Unauthorized, Unavailable } from "../platform/errors.ts";
import type { SecurityEvent } from "../platform/events/index.ts";
import type { HotState } from "../platform/hotstate/index.ts";
import type { Logger } from "../platform/logging.ts";
import { createGrantCache, grantsForRoute, standingAccessAllowed } from "./jit/index.ts";
import { type CompiledPolicy, compilePolicy, type RoutePolicy } from "./policy/index.ts";
import { createRbac, type RbacConfig } from "./rbac/index.ts";
import type { IdentityConfig, RouteAuth } from "./schema.ts";
import {
  createAccessTokens,
  createApiKeys,
  createCertificateIdentities,
  createClientLockout,
  createRevocations,
  createServiceAccounts,
  createTokenEndpoint,
  readBearerToken,
} from "./service-auth/index.ts";
import { createSessionStore, readCookie, type Session, sessionCookieName } from "./sessions/index.ts";
import { createRelyingParty } from "./sso/index.ts";
import { ACCESS_TOKEN_TYPE, createAssertionSigner, createTokenKeys } from "./tokens/index.ts";
import { answerEndpoint, CALLBACK_PATH, isIdentityEndpoint, originOf } from "./endpoints.ts";
import type { AccessRequest, ClientCertificate, Credential, Identity } from "./types.ts";

/** A route's identity settings, as the gateway compiled them. */
export interface RouteIdentity {
  id: string;
  environment: string | undefined;
  standingAccess: boolean;
  auth: RouteAuth | undefined;
  policy: CompiledPolicy | undefined;
}

/** What the gateway knows of a request when the identity step runs. */
export interface AccessContext {
  client: string;
  country: string | undefined;
  encrypted: boolean;
  /** Canonical path with its query. */
  path: string;
}

export type AccessOutcome =
  | {
      allowed: true;
      identity: Identity | undefined;
      /** Headers to set on the upstream request (the identity assertion, X-Rampart-User, …). */
      headers: Record<string, string>;
      /** Whether the Authorization header carried a Rampart credential (then it is not forwarded). */
      dropAuthorization: boolean;
      /** The policy would have refused (shadow mode): the deciding rule, for the event. */
      shadowDenied?: string;
    }
  | {
      allowed: false;
      status: number;
      /** What the gateway records: auth_required, auth_failed, policy_denied, jit_required. */
      decision: "auth_required" | "auth_failed" | "policy_denied" | "jit_required";
      message: string;
      headers: Record<string, string>;
      /** Detail for the event (never a credential). */
      detail?: string;
    };

export interface GatewayAccess {
  /** Compiles a route's identity settings (once, at start). */
  forRoute(r: {
    id: string;
    environment?: string | undefined;
    standingAccess?: boolean;
    auth?: RouteAuth | undefined;
    policy?: RoutePolicy | undefined;
  }): RouteIdentity | undefined;
  /** Whether `path` is one of Rampart's own identity endpoints (answered by `answer`). */
  reserves(path: string): boolean;
  answer(req: IncomingMessage, res: ServerResponse, ctx: AccessContext): Promise<void>;
  /** Whether an Authorization header carries a Rampart credential (never forwarded, on any route). */
  carriesCredential(authorization: string | undefined): boolean;
  /** The identity step for a request on a route with `auth` or `policy`. */
  authorize(req: IncomingMessage, route: RouteIdentity, ctx: AccessContext): Promise<AccessOutcome>;
  /**
   * The same decision when it needs no I/O (a cached session or no sign-in, identity already
   * resolved for the route); undefined means call `authorize`.
   */
  authorizeNow(req: IncomingMessage, route: RouteIdentity, ctx: AccessContext): AccessOutcome | undefined;
  close(): Promise<void>;
}

/** How long a resolved identity (roles, upstream headers) serves one credential on one route. */
const RESOLVED_MS = 250;
const RESOLVED_ENTRIES = 10_000;

interface Resolved {
  /** The session's identity object it was built from; undefined for tokens and certificates. */
  base: Identity | undefined;
  identity: Identity;
  headers: Record<string, string>;
  /** performance.now() after which it is rebuilt: freshness is real time, whatever the clock says. */
  freshUntil: number;
  /** Epoch ms (the clock's time) when the first grant it counts ends. */
  firstGrantEnds: number;
}

/** The verified client certificate of a TLS request, if any. */
function withoutQuery(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}

/** `example.com:8443` → `example.com`; `[::1]:80` → `[::1]`. */
function hostWithoutPort(host: string | undefined): string {
  if (host === undefined) return "";
  const colon = host.lastIndexOf(":");
  return colon > host.lastIndexOf("]") && /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}

function clientCertificate(req: IncomingMessage): ClientCertificate | undefined {
  const socket = req.socket as TLSSocket;
  if (socket.encrypted !== true || !socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const subject = Object.entries(cert.subject ?? {})
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(",");
  return {
    subject,
    fingerprint: (cert.fingerprint256 ?? "").replace(/:/g, "").toLowerCase(),
    san: (cert.subjectaltname ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

/**
 * Whether an Authorization header carries one of Rampart's own credentials (an API key, or an access
 * token this deployment issued), even on a route that does not accept it: those are never forwarded.
 */
function carriesRampartCredential(authorization: string | undefined, issuer: string): boolean {
  let token: string | undefined;
  try {
    token = readBearerToken(authorization);
  } catch {
    return false; // not a bearer token: the app's own scheme
  }
  if (token === undefined) return false;
  if (token.startsWith("rpk_")) return true;
  try {
    return decodeProtectedHeader(token).typ === ACCESS_TOKEN_TYPE && decodeJwt(token).iss === issuer;
  } catch {
    return false;
  }
}

/** A browser navigating (not an API call): it can follow a redirect to the sign-in page. */
function navigates(req: IncomingMessage): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html");
}

export async function createGatewayAccess(o: {
  identity: IdentityConfig;
  rbac: Partial<RbacConfig>;
  hotState: HotState;
  clock: Clock;
  emit: (e: SecurityEvent) => void;
  logger?: Logger | undefined;
  /** Issuer of Rampart's tokens and assertions (the gateway's public URL, or `rampart`). */
  issuer?: string;
}): Promise<GatewayAccess> {
  const { clock, hotState, emit } = o;
  const cfg = o.identity;
  if (cfg.tokens.secret === undefined && (cfg.serviceAccounts.length > 0 || cfg.providers.length > 0))
    o.logger?.warn(
      "identity.tokens.secret is not set: tokens and assertions are signed with a key of this process only",
    );
  const keys = createTokenKeys({
    secret: cfg.tokens.secret ?? randomBytes(32),
    algorithm: cfg.tokens.algorithm,
    rotationPeriodMs: cfg.tokens.rotationHours * 3_600_000,
    clock,
  });
  const issuer = o.issuer ?? "rampart";
  const assertions = createAssertionSigner({ keys, clock, issuer });
  const accounts = createServiceAccounts(cfg.serviceAccounts);
  const revocations = createRevocations({ hotState, clock, emit });
  const accessTokens = createAccessTokens({ keys, clock, issuer, accounts, revocations });
  const tokenEndpoint = createTokenEndpoint({
    accounts,
    accessTokens,
    lockout: createClientLockout({ hotState, clock, emit }),
    clock,
    emit,
  });
  const apiKeys = createApiKeys({ hotState, clock, emit, accounts, revocations });
  const certificates = createCertificateIdentities(cfg.clientCertificates, { accounts });
  const sessions = createSessionStore({
    hotState,
    clock,
    emit,
    logger: o.logger,
    idleTimeoutMs: cfg.sessions.idleTimeoutMinutes * 60_000,
    absoluteTimeoutMs: cfg.sessions.absoluteTimeoutHours * 3_600_000,
  });
  const rp =
    cfg.providers.length > 0
      ? createRelyingParty({
          providers: cfg.providers,
          sessions,
          hotState,
          clock,
          emit,
          logger: o.logger,
          callbackPath: CALLBACK_PATH,
        })
      : undefined;
  const grants = await createGrantCache({ hotState, clock });
  const rbac = createRbac(o.rbac);
  await Promise.all([revocations.start(), apiKeys.start(), sessions.start()]);

  /** The session behind the request's cookie, refreshed once the provider's access token has lapsed. */
  async function sessionOf(req: IncomingMessage, secure: boolean): Promise<Session | null> {
    const id = readCookie(req.headers.cookie, sessionCookieName(secure));
    if (id === undefined) return null;
    const session = await sessions.get(id);
    if (session === null || rp === undefined) return session;
    // The provider's access token never leaves the gateway: its expiry only says when to ask the
    // provider about the user again. Refreshing ahead of it would call the provider on every
    // request whenever its tokens live shorter than the lead.
    return needsRefresh(session, clock.now()) ? rp.refresh(session) : session;
  }
  const needsRefresh = (session: Session, now: Date): boolean =>
    rp !== undefined &&
    Boolean(session.tokens.refreshToken) &&
    session.tokens.expiresAt !== undefined &&
    session.tokens.expiresAt <= now.getTime();

  /** `key` names the credential (session handle, token, certificate) for the resolved-identity cache. */
  type Authenticated =
    { identity: Identity; key: string; sessionId?: string; bearer: boolean } | { failed: string } | undefined;

  async function authenticate(
    req: IncomingMessage,
    auth: RouteAuth,
    secure: boolean,
  ): Promise<Authenticated> {
    const accepts = (c: Credential) => auth.accept.includes(c);
    if (req.headers.authorization !== undefined && (accepts("access-token") || accepts("api-key"))) {
      let token: string | undefined;
      try {
        token = readBearerToken(req.headers.authorization);
      } catch {
        return { failed: "malformed Authorization header" };
      }
      if (token !== undefined) {
        if (token.startsWith("rpk_")) {
          if (!accepts("api-key")) return { failed: "API keys are not accepted here" };
          const identity = await apiKeys.verifyApiKey(token);
          return identity ? { identity, key: token, bearer: true } : { failed: "invalid API key" };
        }
        if (!accepts("access-token")) return { failed: "access tokens are not accepted here" };
        try {
          return { identity: await accessTokens.verifyAccessToken(token), key: token, bearer: true };
        } catch (err) {
          if (err instanceof Unauthorized) return { failed: err.message };
          throw err;
        }
      }
    }
    if (accepts("session")) {
      const session = await sessionOf(req, secure);
      if (session)
        return {
          identity: session.identity,
          key: session.handle,
          sessionId: session.handle,
          bearer: false,
        };
    }
    if (accepts("client-certificate")) {
      const cert = clientCertificate(req);
      const identity = cert ? certificates.identityFor(cert) : undefined;
      if (identity && cert) return { identity, key: `cert:${cert.fingerprint}`, bearer: false };
    }
    return undefined;
  }

  // The identity with its roles and its upstream headers, per credential and route, for a moment:
  // at thousands of requests a second, RBAC, the grant lookup and the assertion's cache key would
  // otherwise be redone for every one. A session re-read from hot state (a new identity object)
  // or a grant's end makes it stale at once; a revoked credential never gets this far.
  const resolved = new Map<string, Resolved>();
  type Found = { identity: Identity; key: string; sessionId?: string };
  const resolvedKey = (found: Found, route: RouteIdentity) => `${found.key}\n${route.id}`;
  // Tokens verify to a new object each time; a session's stays the same until re-read.
  const baseOf = (found: Found) => (found.sessionId === undefined ? undefined : found.identity);
  function resolvedFor(key: string, found: Found, t: number): Resolved | undefined {
    const hit = resolved.get(key);
    return hit && hit.base === baseOf(found) && t < hit.firstGrantEnds && performance.now() < hit.freshUntil
      ? hit
      : undefined;
  }
  function remember(key: string, entry: Resolved): void {
    if (resolved.size >= RESOLVED_ENTRIES) resolved.clear();
    resolved.set(key, entry);
  }

  /** The identity with its RBAC roles and the JIT grants in force for this route; when the first grant ends. */
  async function withRoles(
    identity: Identity,
    route: RouteIdentity,
    now: Date,
  ): Promise<{ identity: Identity; firstEnd: number }> {
    const inForce = grantsForRoute(await grants.activeGrants(identity.subject, now), route, now);
    const standing = standingAccessAllowed(route.environment, identity, route);
    const roles = new Set<string>(standing ? [...identity.roles, ...rbac.rolesOf(identity)] : []);
    let firstEnd = Number.POSITIVE_INFINITY;
    for (const g of inForce) {
      roles.add(g.role);
      firstEnd = Math.min(firstEnd, g.ends.getTime());
    }
    return {
      identity: { ...identity, roles: [...roles].sort(), grants: inForce.map((g) => g.grantId) },
      firstEnd,
    };
  }

  const refuse = (
    status: number,
    decision: "auth_required" | "auth_failed" | "policy_denied" | "jit_required",
    message: string,
    headers: Record<string, string> = {},
    detail?: string,
  ): AccessOutcome => ({ allowed: false, status, decision, message, headers, ...(detail ? { detail } : {}) });

  /** The identity step; hot-state and provider outages surface as Unavailable. */
  async function decide(
    req: IncomingMessage,
    route: RouteIdentity,
    ctx: AccessContext,
  ): Promise<AccessOutcome> {
    const now = clock.now();
    if (!route.auth) return conclude(req, route, ctx, now, undefined);
    const found = await authenticate(req, route.auth, ctx.encrypted);
    if (found && "failed" in found)
      return refuse(
        401,
        "auth_failed",
        "the credential was not accepted",
        { "www-authenticate": 'Bearer realm="rampart", error="invalid_token"' },
        found.failed,
      );
    if (found?.identity.credential === "api-key")
      apiKeys.noteUse(String(found.identity.claims.key_id), ctx.client, route.id);
    // Optional sign-in: the request goes on anonymous, and the policy decides.
    if (found === undefined && !route.auth.required) return conclude(req, route, ctx, now, undefined);
    if (found === undefined) {
      const provider = route.auth.provider;
      if (rp && provider !== undefined && navigates(req)) {
        const start = await rp.beginLogin({
          provider,
          origin: originOf(req, ctx.encrypted),
          returnTo: ctx.path,
          ip: ctx.client,
        });
        return refuse(302, "auth_required", "sign in first", {
          location: start.redirectUrl,
          "set-cookie": start.setCookie,
          "cache-control": "no-store",
        });
      }
      return refuse(401, "auth_required", "authentication required", {
        "www-authenticate": 'Bearer realm="rampart"',
      });
    }
    const key = resolvedKey(found, route);
    let entry = resolvedFor(key, found, now.getTime());
    if (!entry) {
      const withGrants = await withRoles(found.identity, route, now);
      const headers = route.auth.identityHeaders
        ? await assertions.identityHeaders(withGrants.identity, {
            audience: route.id,
            ...(found.sessionId ? { sessionId: found.sessionId } : {}),
          })
        : {};
      entry = {
        base: baseOf(found),
        identity: withGrants.identity,
        headers,
        freshUntil: performance.now() + RESOLVED_MS,
        firstGrantEnds: withGrants.firstEnd,
      };
      remember(key, entry);
    }
    return conclude(req, route, ctx, now, { entry, bearer: found.bearer });
  }

  /** `decide` without I/O, or undefined: see GatewayAccess.authorizeNow. */
  function decideNow(
    req: IncomingMessage,
    route: RouteIdentity,
    ctx: AccessContext,
  ): AccessOutcome | undefined {
    const now = clock.now();
    if (!route.auth) return conclude(req, route, ctx, now, undefined);
    // Bearer credentials verify asynchronously; certificates and sign-in starts are rare.
    if (req.headers.authorization !== undefined || !route.auth.accept.includes("session")) return undefined;
    const session = sessions.peek(readCookie(req.headers.cookie, sessionCookieName(ctx.encrypted)));
    if (session === undefined || needsRefresh(session, now)) return undefined;
    const found = {
      identity: session.identity,
      key: session.handle,
      sessionId: session.handle,
      bearer: false,
    };
    const entry = resolvedFor(resolvedKey(found, route), found, now.getTime());
    return entry ? conclude(req, route, ctx, now, { entry, bearer: false }) : undefined;
  }

  /** Production protection and the route policy, once the identity (if any) is resolved. */
  function conclude(
    req: IncomingMessage,
    route: RouteIdentity,
    ctx: AccessContext,
    now: Date,
    signedIn: { entry: Resolved; bearer: boolean } | undefined,
  ): AccessOutcome {
    const identity = signedIn?.entry.identity;
    // On prod, people without standing access need a grant in force for this route.
    if (
      identity &&
      !standingAccessAllowed(route.environment, identity, route) &&
      (identity.grants ?? []).length === 0
    )
      return refuse(
        403,
        "jit_required",
        `this is a ${route.environment} route: request just-in-time access to use it`,
        {},
        identity.subject,
      );
    let shadowDenied: string | undefined;
    if (route.policy) {
      const request: AccessRequest = {
        method: req.method ?? "GET",
        path: withoutQuery(ctx.path),
        host: hostWithoutPort(req.headers.host),
        ip: ctx.client,
        now,
        ...(ctx.country !== undefined ? { country: ctx.country } : {}),
        ...(route.environment !== undefined ? { environment: route.environment } : {}),
      };
      const cert = clientCertificate(req);
      if (cert) request.clientCertificate = cert;
      const decision = route.policy.evaluate(identity, request);
      if (!decision.allowed || decision.shadowDenied) {
        const r = decision.rule;
        const rule = r ? `${r.kind}[${r.index}]${r.name ? ` ${r.name}` : ""}` : "default deny";
        const detail = `${identity?.subject ?? "anonymous"} ${rule}`;
        if (!decision.allowed)
          return refuse(403, "policy_denied", "you are not allowed to use this route", {}, detail);
        shadowDenied = detail;
      }
    }
    return {
      allowed: true,
      identity,
      headers: signedIn?.entry.headers ?? {},
      dropAuthorization:
        signedIn?.bearer === true || carriesRampartCredential(req.headers.authorization, issuer),
      ...(shadowDenied ? { shadowDenied } : {}),
    };
  }

  return {
    forRoute(r) {
      if (r.auth === undefined && r.policy === undefined) return undefined;
      return {
        id: r.id,
        environment: r.environment,
        standingAccess: r.standingAccess === true,
        auth: r.auth,
        policy: r.policy ? compilePolicy(r.policy) : undefined,
      };
    },

    reserves: isIdentityEndpoint,

    answer: (req, res, ctx) =>
      answerEndpoint(req, res, ctx, { keys, tokenEndpoint, rp, sessions, sessionOf, logger: o.logger }),

    async authorize(req, route, ctx) {
      try {
        return await decide(req, route, ctx);
      } catch (err) {
        // Hot state or the provider cannot answer (a session, a grant, a refresh, a sign-in):
        // fail closed, but say so and when to retry.
        if (!(err instanceof Unavailable)) throw err;
        return refuse(
          503,
          "auth_required",
          "sign-in cannot be checked right now; try again shortly",
          { "retry-after": "5" },
          "unavailable",
        );
      }
    },

    authorizeNow: decideNow,

    carriesCredential: (authorization) =>
      authorization !== undefined && carriesRampartCredential(authorization, issuer),

    async close() {
      await Promise.all([revocations.close(), apiKeys.close(), sessions.close(), grants.close()]);
    },
  };
}
