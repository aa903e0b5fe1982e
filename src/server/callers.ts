// Who calls the control-plane API, and may they: the admin token, service-account access tokens,
// API keys, and people behind a gateway route (its signed identity assertion). Every route names
// one RBAC action; the caller's roles are their RBAC bindings plus the roles they arrive with.
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import type { Rbac } from "../identity/rbac/index.ts";
import type { AccessTokens, ApiKeys, Revocations } from "../identity/service-auth/index.ts";
import { readBearerToken } from "../identity/service-auth/index.ts";
import { ASSERTION_HEADER, ASSERTION_TYPE, type TokenKeys, verifyJwt } from "../identity/tokens/index.ts";
import type { Identity } from "../identity/types.ts";
import type { Clock } from "../platform/clock.ts";
import { Forbidden, Unauthorized } from "../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../platform/events/index.ts";

/** The admin token's subject: a machine credential, never a person. */
export const ADMIN_SUBJECT = "admin-token";

/** An authenticated caller: who (with every role in force) and how events name them. */
export interface Caller {
  identity: Identity;
  actor: EventRef;
}

export interface ApiCallers {
  /** The caller behind a request; Unauthorized without a valid credential. */
  authenticate(req: FastifyRequest): Promise<Caller>;
  /** The caller, when their roles grant `action`; Forbidden naming the missing permission otherwise. */
  authorize(req: FastifyRequest, action: string): Promise<Caller>;
  /** Whether the caller's roles grant `action` (what the console asks before offering a button). */
  can(caller: Caller, action: string): boolean;
}

export interface ApiCallersOptions {
  adminTokens: readonly string[];
  rbac: Rbac;
  keys: TokenKeys;
  clock: Clock;
  accessTokens: AccessTokens;
  apiKeys: ApiKeys;
  revocations: Revocations;
  /** The API route's id that gateway assertions must be addressed to; undefined accepts none. */
  assertionAudience: () => string | undefined;
  emit: (event: SecurityEvent) => void;
}

// The claims the gateway signs into an assertion (tokens/assertion.ts).
const assertionClaims = z.object({
  sub: z.string().min(1),
  iat: z.number(),
  kind: z.enum(["user", "service"]),
  email: z.string().optional(),
  groups: z.array(z.string()),
  roles: z.array(z.string()),
});

const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

const adminIdentity: Identity = {
  kind: "service",
  subject: ADMIN_SUBJECT,
  groups: [],
  roles: ["admin"],
  claims: {},
  credential: "access-token",
};

/** Authentication and per-action authorization of API callers; see the module comment. */
export function createApiCallers(o: ApiCallersOptions): ApiCallers {
  const adminDigests = o.adminTokens.map(digest);
  const checks = new Map<string, (roles: readonly string[]) => boolean>();

  function isAdminToken(token: string): boolean {
    // Hash both sides so the comparison is constant-time whatever the lengths; compare with every token.
    const presented = digest(token);
    let match = false;
    for (const d of adminDigests) match = timingSafeEqual(presented, d) || match;
    return match;
  }

  async function fromAssertion(token: string, audience: string | undefined): Promise<Identity> {
    if (audience === undefined)
      throw new Unauthorized(
        "identity assertions are not accepted here: server.assertionAudience is not set",
      );
    const payload = await verifyJwt(o.keys, o.clock, token, {
      typ: ASSERTION_TYPE,
      issuer: "rampart",
      audience,
    });
    const claims = assertionClaims.safeParse(payload);
    if (!claims.success) throw new Unauthorized("malformed identity assertion");
    const c = claims.data;
    // An assertion lives minutes; a revocation must not wait for it to lapse.
    if (o.revocations.isRevoked(c.sub, c.iat * 1000)) throw new Unauthorized("credential revoked");
    return {
      kind: c.kind,
      subject: c.sub,
      // The gateway asserts an email only when the provider verified it.
      ...(c.email !== undefined ? { email: c.email, emailVerified: true } : {}),
      groups: c.groups,
      roles: c.roles,
      claims: payload,
      credential: "session",
    };
  }

  async function identify(req: FastifyRequest): Promise<Identity> {
    const bearer = readBearerToken(req.headers.authorization);
    if (bearer !== undefined) {
      if (isAdminToken(bearer)) return adminIdentity;
      if (bearer.startsWith("rpk_")) {
        const identity = await o.apiKeys.verifyApiKey(bearer);
        if (!identity) throw new Unauthorized("invalid API key");
        o.apiKeys.noteUse(String(identity.claims.key_id), req.ip, "api");
        return identity;
      }
      return o.accessTokens.verifyAccessToken(bearer);
    }
    const assertion = req.headers[ASSERTION_HEADER];
    if (typeof assertion === "string") return fromAssertion(assertion, o.assertionAudience());
    throw new Unauthorized(
      "missing credential: send Authorization: Bearer <admin token, access token or API key>",
    );
  }

  async function authenticate(req: FastifyRequest): Promise<Caller> {
    const found = await identify(req);
    const roles = [...new Set([...found.roles, ...o.rbac.rolesOf(found)])].sort();
    const identity = { ...found, roles };
    // The admin token keeps the name it always had in the audit log.
    const actor: EventRef =
      found === adminIdentity ? { kind: "token", id: "admin" } : { kind: found.kind, id: found.subject };
    return { identity, actor };
  }

  function can(caller: Caller, action: string): boolean {
    let check = checks.get(action);
    if (!check) checks.set(action, (check = o.rbac.permissionCheck(action)));
    return check(caller.identity.roles);
  }

  return {
    authenticate,
    can,
    async authorize(req, action) {
      const caller = await authenticate(req);
      if (can(caller, action)) return caller;
      o.emit(
        newEvent(
          {
            type: "identity.api_denied",
            severity: "medium",
            outcome: "denied",
            actor: caller.actor,
            data: { action, method: req.method, path: req.routeOptions.url ?? req.url },
          },
          o.clock.now(),
        ),
      );
      const roles = caller.identity.roles.join(", ") || "none";
      throw new Forbidden(`missing permission ${action} (your roles: ${roles})`);
    },
  };
}
