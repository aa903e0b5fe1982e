// External Secrets Operator's webhook provider, served from the secrets store: per-namespace
// machine tokens, the namespace's path globs as its scope, audited reads as `k8s:<namespace>`.
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  DEFAULT_ROTATION_GRACE_SECONDS,
  type MachineTokens,
  namespaceAllows,
  namespaceCaller,
  namespaceName,
} from "../appsec/secrets/kubernetes/index.ts";
import { type SecretsConfig, type SecretsService, secretPath } from "../appsec/secrets/index.ts";
import type { Clock } from "../platform/clock.ts";
import { Forbidden, Invalid, NotFound, Unauthorized } from "../platform/errors.ts";
import { type EventRef, newEvent, type SecurityEvent } from "../platform/events/index.ts";

export interface SecretsK8sDeps {
  secrets: SecretsService;
  tokens: MachineTokens;
  /** The `secrets:` section in force. */
  config: () => SecretsConfig;
  /** The API's own caller check, for issuing and revoking tokens. */
  authorize: (req: FastifyRequest, action: string) => Promise<{ actor: EventRef }>;
  emit: (e: SecurityEvent) => void;
  clock: Clock;
}

const bearer = (req: FastifyRequest): string => {
  const header = req.headers.authorization;
  return header?.startsWith("Bearer ") ? header.slice(7).trim() : "";
};

function versionParam(raw: unknown): number | undefined {
  // ESO fills `?version={{ .remoteRef.version }}` with nothing when no version is asked for.
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(n) || n < 1)
    throw new Invalid("expected a positive integer", "version");
  return n;
}

/** Registers GET /api/v1/secrets/k8s/<namespace>/<path> and the token routes under /api/v1/secrets/kubernetes/tokens. */
export function registerSecretsK8sRoutes(app: FastifyInstance, deps: SecretsK8sDeps): void {
  const tags = ["secrets"];
  const tokenEvent = (
    type: string,
    actor: EventRef,
    namespace: string,
    data: Record<string, unknown>,
    outcome: "success" | "failure" = "success",
  ) =>
    deps.emit(
      newEvent(
        {
          type,
          actor,
          target: { kind: "k8s-namespace", id: namespace },
          retention: "audit",
          data,
          severity: "medium",
          outcome,
        },
        deps.clock.now(),
      ),
    );

  app.get(
    "/api/v1/secrets/k8s/:namespace/*",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        description:
          "External Secrets Operator webhook: the secret's newest (or ?version=) value as {data, version}, with the namespace's machine token.",
      },
    },
    async (req) => {
      const { namespace: rawNamespace, "*": rest } = req.params as { namespace: string; "*": string };
      const namespace = namespaceName(rawNamespace);
      const token = bearer(req);
      if (!token || !(await deps.tokens.verify(namespace, token))) {
        // A detection rule can count these; the presented token is never recorded.
        tokenEvent("secrets.k8s_token_refused", { kind: "anonymous", id: req.ip }, namespace, {}, "failure");
        throw new Unauthorized(
          token
            ? `invalid machine token for namespace ${namespace}`
            : "missing bearer token: send the namespace's machine token",
        );
      }
      const path = secretPath(`/${rest.replace(/^\/+/, "")}`);
      const version = versionParam((req.query as { version?: unknown }).version);
      const scope = namespaceAllows(deps.config(), namespace, path);
      if (scope !== true) {
        const why = scope === undefined ? "is not listed in secrets.kubernetes.namespaces" : "may not read";
        throw new Forbidden(`namespace ${namespace} ${why} ${path}`);
      }
      try {
        const value = await deps.secrets.get(namespaceCaller(namespace), path, version ? { version } : {});
        return { data: value.data, version: value.version };
      } catch (err) {
        // ESO treats 404 as "gone": deleted, destroyed, revoked and expired versions all answer it.
        if (err instanceof NotFound) throw new NotFound(`no readable version of ${path}`);
        throw err;
      }
    },
  );

  app.post(
    "/api/v1/secrets/kubernetes/tokens/:namespace",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        description:
          "Issue the namespace's machine token (shown once). Tokens issued before keep working for graceSeconds (body; default 3600 when rotating, 0 otherwise).",
      },
    },
    async (req, reply) => {
      const { actor } = await deps.authorize(req, "secrets:k8s:write");
      const namespace = namespaceName((req.params as { namespace: string }).namespace);
      if (!deps.config().kubernetes.namespaces.some((n) => n.namespace === namespace)) {
        throw new Invalid(
          `namespace ${namespace} is not listed in secrets.kubernetes.namespaces`,
          "namespace",
        );
      }
      const body = (req.body ?? {}) as { rotate?: unknown; graceSeconds?: unknown };
      if (body.rotate !== undefined && typeof body.rotate !== "boolean")
        throw new Invalid("expected true or false", "rotate");
      if (body.graceSeconds !== undefined && typeof body.graceSeconds !== "number") {
        throw new Invalid("expected a number of seconds", "graceSeconds");
      }
      const graceSeconds = body.graceSeconds ?? (body.rotate ? DEFAULT_ROTATION_GRACE_SECONDS : 0);
      const issued = await deps.tokens.issue(namespace, { rotate: body.rotate === true, graceSeconds });
      tokenEvent(body.rotate ? "secrets.k8s_token_rotated" : "secrets.k8s_token_issued", actor, namespace, {
        graceSeconds,
        ...(issued.previousExpiresAt ? { previousExpiresAt: issued.previousExpiresAt } : {}),
      });
      return reply.status(201).send(issued);
    },
  );

  app.delete(
    "/api/v1/secrets/kubernetes/tokens/:namespace",
    {
      schema: {
        tags,
        security: [{ bearer: [] }],
        description: "Revoke every machine token of the namespace now.",
      },
    },
    async (req) => {
      const { actor } = await deps.authorize(req, "secrets:k8s:write");
      const namespace = namespaceName((req.params as { namespace: string }).namespace);
      const revoked = await deps.tokens.revoke(namespace);
      tokenEvent("secrets.k8s_token_revoked", actor, namespace, { revoked });
      return { namespace, revoked };
    },
  );
}
