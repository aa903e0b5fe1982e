// The identity API: just-in-time access requests and grants, break-glass, API keys, revocation of
// a subject everywhere, and RBAC bindings. Each route names the RBAC action it needs.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { RampartConfig } from "../config/index.ts";
import { jitRequestInputSchema } from "../identity/jit/index.ts";
import { ASSERTION_HEADER } from "../identity/tokens/index.ts";
import { Forbidden } from "../platform/errors.ts";
import type { Caller } from "./callers.ts";
import type { ServerIdentity } from "./identity.ts";

/** Route options shared with app.ts: authorization and body parsing. */
export interface RouteKit {
  authorize: (req: FastifyRequest, action: string) => Promise<Caller>;
  parseBody: <T>(schema: z.ZodType<T>, body: unknown) => T;
}

const comment = z.strictObject({ comment: z.string().optional() });
const reason = z.strictObject({ reason: z.string().trim().min(1).max(1000).optional() });
const scope = z.strictObject({ kind: z.enum(["route", "environment"]), id: z.string() });
const breakGlassBody = z.strictObject({
  role: z.string().min(1).max(256),
  scope,
  reason: z.string(),
  durationMinutes: z.number().int().min(1).optional(),
});
const newApiKeyBody = z.strictObject({
  kind: z.enum(["user", "service"]),
  subject: z.string().min(1).max(512),
  scopes: z.array(z.string()).max(64).default([]),
  description: z.string().max(500).optional(),
  ttlSeconds: z.number().int(),
});
// Action names as RBAC spells them (`<area>[:<thing>]:<verb>`); at most 64 per question.
const actionList = z
  .string()
  .max(4096)
  .transform((s) => s.split(",").filter((a) => a !== ""))
  .pipe(z.array(z.string().regex(/^[a-z*][a-z0-9*:_-]*$/, "not an RBAC action name")).max(64));
const meQuery = z.strictObject({ can: actionList.optional() });
const revocationBody = z.strictObject({
  subject: z.string().min(1).max(512),
  reason: z.string().trim().min(1).max(1000),
});

/** Approving is a person's act: a machine credential (the admin token included) cannot vouch for anyone. */
function person(caller: Caller): Caller {
  if (caller.identity.kind !== "user")
    throw new Forbidden(
      `approvals need a person's credential (a user API key or the console); ${caller.identity.subject} is not a person`,
    );
  return caller;
}

export function registerIdentityRoutes(app: FastifyInstance, id: ServerIdentity, o: RouteKit): void {
  const { authorize, parseBody } = o;
  const access = { tags: ["access"], security: [{ bearer: [] }] };
  const identity = { tags: ["identity"], security: [{ bearer: [] }] };
  const rbac = { tags: ["rbac"], security: [{ bearer: [] }] };
  const params = (req: FastifyRequest) => req.params as { id: string };

  app.get(
    "/api/v1/me",
    {
      schema: {
        ...identity,
        description:
          "Who the caller is (subject, kind, roles in force, how they signed in) and, with ?can=a,b, which of those RBAC actions their roles grant. Without any credential: { signedIn: false } (a bad one is 401).",
      },
    },
    async (req) => {
      const q = parseBody(meQuery, req.query);
      // The console asks before it knows whether a gateway session stands behind it; "nobody" is
      // an answer then, not an error. A credential that is presented must still be good.
      if (req.headers.authorization === undefined && req.headers[ASSERTION_HEADER] === undefined)
        return { signedIn: false };
      const caller = await id.callers.authenticate(req);
      const who = caller.identity;
      return {
        signedIn: true,
        subject: who.subject,
        kind: who.kind,
        ...(who.email !== undefined ? { email: who.email } : {}),
        roles: who.roles,
        credential: who.credential,
        can: Object.fromEntries((q.can ?? []).map((a) => [a, id.callers.can(caller, a)])),
      };
    },
  );

  app.post(
    "/api/v1/access/requests",
    {
      schema: {
        ...access,
        description:
          "Ask for a role on a route or environment: { role, scope, justification, durationMinutes }.",
      },
    },
    async (req, reply) => {
      const { identity: who } = await authorize(req, "jit:requests:create");
      return reply.status(201).send(await id.jit.request(who, parseBody(jitRequestInputSchema, req.body)));
    },
  );

  app.get(
    "/api/v1/access/requests",
    {
      schema: {
        ...access,
        description:
          "The caller's own requests (newest first), or with ?pending=true those they may decide now.",
      },
    },
    async (req) => {
      const { identity: who } = await authorize(req, "jit:requests:read");
      const q = req.query as { pending?: string };
      return {
        requests: q.pending === "true" ? await id.jit.pendingFor(who) : await id.jit.requestsOf(who.subject),
      };
    },
  );

  app.get(
    "/api/v1/access/requests/:id",
    { schema: { ...access, description: "One request with its decisions." } },
    async (req) => {
      await authorize(req, "jit:requests:read");
      return id.jit.getRequest(params(req).id);
    },
  );

  for (const decision of ["approve", "deny"] as const)
    app.post(
      `/api/v1/access/requests/:id/${decision}`,
      {
        schema: {
          ...access,
          description: `${decision === "approve" ? "Approve" : "Deny"} a request as one of the approvers its policy names (never your own).`,
        },
      },
      async (req) => {
        const { identity: who } = person(await authorize(req, "jit:requests:approve"));
        const body = parseBody(comment, req.body ?? {});
        return id.jit[decision](who, params(req).id, body.comment);
      },
    );

  app.post(
    "/api/v1/access/requests/:id/cancel",
    { schema: { ...access, description: "Withdraw your own pending request." } },
    async (req) => {
      const { identity: who } = await authorize(req, "jit:requests:create");
      return id.jit.cancel(who, params(req).id);
    },
  );

  app.get(
    "/api/v1/access/grants",
    { schema: { ...access, description: "Grants in force now, of everyone or of ?subject=." } },
    async (req) => {
      await authorize(req, "jit:grants:read");
      const { subject } = req.query as { subject?: string };
      return { grants: await id.jit.grantsInForce(subject) };
    },
  );

  app.delete(
    "/api/v1/access/grants/:id",
    { schema: { ...access, description: "End a grant at once on every gateway: optional { reason }." } },
    async (req) => {
      const { actor } = await authorize(req, "jit:grants:revoke");
      const body = parseBody(reason, req.body ?? {});
      return id.jit.revokeGrant(params(req).id, actor, body.reason);
    },
  );

  app.post(
    "/api/v1/access/break-glass",
    {
      schema: {
        ...access,
        description:
          "Take a role at once without approval, as jit.breakGlass allows: { role, scope, reason }. Always alerts.",
      },
    },
    async (req, reply) => {
      // Who may break the glass is jit.breakGlass's call (its groups); RBAC only asks that you may request access.
      const { identity: who } = await authorize(req, "jit:requests:create");
      const b = parseBody(breakGlassBody, req.body);
      return reply
        .status(201)
        .send(await id.jit.breakGlass(who, b.role, b.scope, b.reason, b.durationMinutes));
    },
  );

  app.post(
    "/api/v1/identity/api-keys",
    {
      schema: {
        ...identity,
        description:
          "Create an API key for a service account or a user; the key is in this answer only, never again.",
      },
    },
    async (req, reply) => {
      const { actor } = await authorize(req, "identity:api-keys:write");
      const body = parseBody(newApiKeyBody, req.body);
      const created = await id.apiKeys.create(
        {
          kind: body.kind,
          subject: body.subject,
          scopes: body.scopes,
          ttlSeconds: body.ttlSeconds,
          ...(body.description !== undefined ? { description: body.description } : {}),
        },
        actor,
      );
      return reply.status(201).send(created);
    },
  );

  app.get(
    "/api/v1/identity/api-keys",
    { schema: { ...identity, description: "API keys of ?subject= (default: yours), without the keys." } },
    async (req) => {
      const { identity: who } = await authorize(req, "identity:api-keys:read");
      const { subject } = req.query as { subject?: string };
      return { apiKeys: await id.apiKeys.list(subject ?? who.subject) };
    },
  );

  app.delete(
    "/api/v1/identity/api-keys/:id",
    { schema: { ...identity, description: "Revoke an API key on every gateway at once." } },
    async (req) => {
      const { actor } = await authorize(req, "identity:api-keys:write");
      return id.apiKeys.revoke(params(req).id, actor);
    },
  );

  app.post(
    "/api/v1/identity/revocations",
    {
      schema: {
        ...identity,
        description:
          "End a subject's SSO sessions, access tokens, API keys and JIT grants everywhere: { subject, reason }.",
      },
    },
    async (req) => {
      const { actor } = await authorize(req, "identity:revoke");
      const body = parseBody(revocationBody, req.body);
      return id.revokeSubject(body.subject, actor, body.reason);
    },
  );

  app.get(
    "/api/v1/rbac/bindings",
    { schema: { ...rbac, description: "Every binding in force, from rampart.yaml or the API." } },
    async (req) => {
      await authorize(req, "rbac:bindings:read");
      return { bindings: id.bindings.list() };
    },
  );

  app.post(
    "/api/v1/rbac/bindings",
    {
      schema: {
        ...rbac,
        description:
          "Give a role to users, groups or service accounts: { role, users?, groups?, serviceAccounts? }.",
      },
    },
    async (req, reply) => {
      const { actor } = await authorize(req, "rbac:bindings:write");
      return reply.status(201).send(await id.bindings.add(req.body, actor));
    },
  );

  app.delete(
    "/api/v1/rbac/bindings/:id",
    { schema: { ...rbac, description: "Remove a binding made through the API." } },
    async (req) => {
      const { actor } = await authorize(req, "rbac:bindings:write");
      return id.bindings.remove(params(req).id, actor);
    },
  );
}

/** What the console's read-only identity views read: the config in force and the session store. */
export interface IdentityConsoleSources {
  readonly config: RampartConfig;
  readonly identity: Pick<ServerIdentity, "sessions">;
}

/** Sessions listed for one subject at most: a person has a handful; more is a bug or an attack. */
const SESSIONS_LISTED = 100;
const sessionsQuery = z.strictObject({
  subject: z
    .string({
      error:
        "subject is required: sessions are indexed by subject, and hot state cannot list every session without a full scan",
    })
    .trim()
    .min(1, "subject must not be empty")
    .max(512),
});

/**
 * Read-only views for the console's Access page: service accounts as configured (never their
 * secrets) and a subject's SSO sessions (never their tokens). Registered beside registerIdentityRoutes.
 */
export function registerIdentityConsoleRoutes(
  app: FastifyInstance,
  rt: IdentityConsoleSources,
  o: RouteKit,
): void {
  const { authorize, parseBody } = o;
  const identity = { tags: ["identity"], security: [{ bearer: [] }] };
  // Accounts and certificate mappings take effect at start (identity needs a restart), so the ones in
  // force are those of the config the app was built with, not a later reload's.
  const { serviceAccounts, clientCertificates } = rt.config.identity;

  app.get(
    "/api/v1/identity/service-accounts",
    {
      schema: {
        ...identity,
        description:
          "Service accounts in force: name, description, roles, scopes, how many client secrets and certificate mappings they have (never the secrets).",
      },
    },
    async (req) => {
      await authorize(req, "identity:service-accounts:read");
      return {
        serviceAccounts: serviceAccounts.map((a) => ({
          name: a.name,
          description: a.description,
          roles: a.roles,
          scopes: a.scopes,
          clientSecrets: a.secretHashes.length,
          certificates: clientCertificates.filter((c) => c.service === a.name).length,
        })),
      };
    },
  );

  app.get(
    "/api/v1/identity/sessions",
    {
      schema: {
        ...identity,
        description: `A subject's live SSO sessions (?subject=, required): provider, created, last seen, absolute end; never tokens. At most ${SESSIONS_LISTED}.`,
      },
    },
    async (req) => {
      await authorize(req, "identity:sessions:read");
      const { subject } = parseBody(sessionsQuery, req.query);
      const found = await rt.identity.sessions.sessionsOf(subject, SESSIONS_LISTED);
      const sessions = found.sessions
        .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
        .map((s) => ({
          subject: s.identity.subject,
          ...(s.identity.email !== undefined ? { email: s.identity.email } : {}),
          ...(s.identity.name !== undefined ? { name: s.identity.name } : {}),
          provider: s.provider,
          createdAt: new Date(s.createdAt).toISOString(),
          lastSeenAt: new Date(s.lastSeenAt).toISOString(),
          expiresAt: new Date(s.expiresAt).toISOString(),
        }));
      return { subject, sessions, truncated: found.truncated };
    },
  );
}
