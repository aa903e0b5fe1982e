// The control-plane HTTP API (Fastify): health, metrics, OpenAPI, event ingestion and the audit API.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { z } from "zod";
import { createMachineTokens } from "../appsec/secrets/kubernetes/index.ts";
import { type AuditTables, queryEntries, subjectRef } from "../monitoring/audit/index.ts";
import { Invalid, RampartError } from "../platform/errors.ts";
import { securityEventSchema } from "../platform/events/index.ts";
import { databaseDiskFull, databaseReadOnly, databaseUnreachable } from "../platform/store/index.ts";
import { bearerAuth } from "./auth.ts";
import { registerBlockRoutes } from "./gateway-blocks.ts";
import { registerGatewayRoutes } from "./gateway-routes.ts";
import { registerIdentityConsoleRoutes, registerIdentityRoutes } from "./identity-routes.ts";
import { registerIncidentRoutes } from "./incident-routes.ts";
import { registerPlaybookRoutes } from "./playbook-routes.ts";
import { registerPrivacyRoutes } from "./privacy-routes.ts";
import { registerComplianceRoutes } from "./compliance-routes.ts";
import { registerConsole } from "./console.ts";
import { registerResponseRoutes } from "./response-routes.ts";
import { registerScanRoutes } from "./scan-routes.ts";
import type { Runtime } from "./runtime.ts";
import { registerSecretsK8sRoutes } from "./secrets-k8s.ts";
import { registerSecretsRoutes } from "./secrets-routes.ts";

const eventBatchSchema = z.strictObject({
  batchId: z.string().regex(/^[A-Za-z0-9._:-]{8,128}$/, "expected 8-128 characters of [A-Za-z0-9._:-]"),
  source: z.string().max(128).optional(),
  events: z.array(securityEventSchema).min(1).max(10_000),
});

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where =
    first?.path
      .map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`))
      .join("")
      .replace(/^\./, "") || "body";
  throw new Invalid(first?.message ?? "invalid request body", where);
}

export async function buildApp(rt: Runtime): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 10 * 1024 * 1024,
    genReqId: () => crypto.randomUUID(),
  });

  await app.register(swagger, {
    openapi: {
      info: { title: "Rampart control plane", version: "1" },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/api/docs" });

  app.setErrorHandler((err: FastifyError | RampartError, req, reply) => {
    if (err instanceof RampartError) {
      if (err.status === 503) reply.header("retry-after", "1");
      return reply.status(err.status).send({ error: err.code, message: err.message, requestId: req.id });
    }
    const unavailable = databaseReadOnly(err)
      ? "the database is read-only (a failover under way?); try again shortly"
      : databaseDiskFull(err)
        ? "the database has no space left on its disk; writes resume once space is freed"
        : databaseUnreachable(err)
          ? "the database is unavailable; try again shortly"
          : undefined;
    if (unavailable) {
      if (databaseDiskFull(err)) rt.logger.error({ requestId: req.id, url: req.url }, "database disk full");
      reply.header("retry-after", "1");
      return reply.status(503).send({ error: "unavailable", message: unavailable, requestId: req.id });
    }
    const status = (err as FastifyError).statusCode ?? 500;
    if (status < 500) {
      return reply.status(status).send({ error: "bad_request", message: err.message, requestId: req.id });
    }
    rt.logger.error({ err: err.message, requestId: req.id, url: req.url }, "request failed");
    return reply.status(500).send({ error: "internal", message: "internal error", requestId: req.id });
  });

  const ingestAuth = bearerAuth(() => rt.config.events.ingestTokens);
  const authorize = rt.identity.callers.authorize;

  app.get(
    "/healthz",
    { schema: { description: "Liveness: the process answers.", tags: ["health"] } },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/readyz",
    { schema: { description: "Readiness: the database and hot state answer.", tags: ["health"] } },
    async (_req, reply) => {
      const [store, hot] = await Promise.all([rt.store.ping(), rt.hot.ping()]);
      const ok = store && hot;
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? "ready" : "unavailable", store, hotState: hot });
    },
  );

  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    reply.header("content-type", rt.metrics.registry.contentType);
    return rt.metrics.registry.metrics();
  });

  app.post(
    "/api/v1/events",
    {
      schema: {
        description: "Ingest a batch of events from a gateway; idempotent by batchId.",
        tags: ["events"],
        security: [{ bearer: [] }],
      },
    },
    async (req, reply) => {
      const source = ingestAuth(req);
      const batch = parseBody(eventBatchSchema, req.body);
      // The source is who authenticated, never what the batch claims to be.
      const events = batch.events.map((e) => ({ ...e, source }));
      const { duplicate } = await rt.bus.publish(events, { batchId: batch.batchId, source });
      rt.metrics.eventBatchesTotal.inc({ result: duplicate ? "duplicate" : "accepted" });
      return reply
        .status(duplicate ? 200 : 201)
        .send({ batchId: batch.batchId, accepted: duplicate ? 0 : events.length, duplicate });
    },
  );

  const audit = { tags: ["audit"], security: [{ bearer: [] }] };

  app.get(
    "/api/v1/audit/entries",
    {
      schema: {
        ...audit,
        description:
          "Search entries by time range, type, actor and target (newest first). People's personal details read [sealed]; ?personal=true reveals them (audit:personal:reveal).",
      },
    },
    async (req) => {
      await authorize(req, "audit:read");
      const { personal, ...q } = req.query as Record<string, string | undefined>;
      // People's sealed details (emails, names) only for those allowed to see them.
      const revealPersonal = personal === "true";
      if (revealPersonal) await authorize(req, "audit:personal:reveal");
      const page = await queryEntries(
        rt.store.db.withTables<AuditTables>(),
        { ...q, limit: q.limit ? Number(q.limit) : undefined },
        (ref) => subjectRef(ref, rt.audit.subjectKey),
      );
      // Opening them needs the audit key file, which only the log holds.
      if (revealPersonal) await rt.audit.revealPersonal(page.entries);
      return page;
    },
  );

  app.get(
    "/api/v1/audit/logs",
    {
      schema: {
        ...audit,
        description:
          "Logs per retention class and period with their latest signed checkpoint, the verifier key, and the latest whole-log verification.",
      },
    },
    async (req) => {
      await authorize(req, "audit:read");
      const [logs, lastVerification] = await Promise.all([rt.audit.logs(), rt.audit.lastVerification()]);
      return { logs, verifierKey: rt.audit.verifierKey, lastVerification: lastVerification ?? null };
    },
  );

  app.post(
    "/api/v1/audit/verify",
    {
      schema: { ...audit, description: "Verify every log (or one) against its MACs and signed checkpoints." },
    },
    async (req) => {
      await authorize(req, "audit:verify");
      const log = (req.query as { log?: string }).log;
      // A whole-log run is recorded like the scheduled one; one log alone is a spot check.
      return log ? rt.audit.verify({ log }) : rt.verifyAuditNow();
    },
  );

  app.post(
    "/api/v1/audit/checkpoint",
    { schema: { ...audit, description: "Sign a checkpoint now for every log that grew." } },
    async (req) => {
      await authorize(req, "audit:write");
      await rt.bus.flush();
      return { checkpoints: await rt.audit.checkpoint() };
    },
  );

  app.get(
    "/api/v1/audit/proof/inclusion",
    { schema: { ...audit, description: "Inclusion proof of an entry (by id) in a signed checkpoint." } },
    async (req) => {
      await authorize(req, "audit:read");
      const { entry } = req.query as { entry?: string };
      if (!entry) throw new Invalid("required", "entry");
      return rt.audit.inclusionProof(entry);
    },
  );

  app.get(
    "/api/v1/audit/proof/consistency",
    { schema: { ...audit, description: "Consistency proof between two sizes of a log." } },
    async (req) => {
      await authorize(req, "audit:read");
      const { log, from, to } = req.query as { log?: string; from?: string; to?: string };
      if (!log) throw new Invalid("required", "log");
      const fromSize = Number(from);
      if (!Number.isInteger(fromSize) || fromSize < 0) throw new Invalid("expected a tree size", "from");
      return rt.audit.consistencyProof(log, fromSize, to === undefined ? undefined : Number(to));
    },
  );

  app.post(
    "/api/v1/audit/hash",
    {
      schema: {
        ...audit,
        description: "The keyed hash a sensitive value has in audit entries (to search for it).",
      },
    },
    async (req) => {
      await authorize(req, "audit:read");
      const { value } = parseBody(z.strictObject({ value: z.string() }), req.body);
      return { hash: rt.audit.hashValue(value) };
    },
  );

  app.post(
    "/api/v1/audit/export",
    { schema: { ...audit, description: "Build an offline-verifiable export bundle for [from, to)." } },
    async (req) => {
      await authorize(req, "audit:read");
      const { from, to } = parseBody(
        z.strictObject({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) }),
        req.body,
      );
      await rt.bus.flush();
      await rt.audit.checkpoint();
      const dir = mkdtempSync(join(tmpdir(), "rampart-export-"));
      try {
        const manifest = await rt.audit.exportBundle({ from: new Date(from), to: new Date(to), dir });
        const files = Object.fromEntries(
          readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]),
        );
        return { manifest, files };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  registerBlockRoutes(app, rt, { authorize, parseBody });
  registerGatewayRoutes(app, rt, { authorize, parseBody });
  registerIdentityRoutes(app, rt.identity, { authorize, parseBody });
  registerIdentityConsoleRoutes(app, rt, { authorize, parseBody });
  registerSecretsRoutes(app, rt, { authorize, parseBody });
  registerIncidentRoutes(app, rt, { authorize, parseBody });
  registerResponseRoutes(app, rt, { authorize, parseBody });
  registerPlaybookRoutes(app, rt, { authorize, parseBody });
  registerScanRoutes(app, rt, { authorize, parseBody });
  registerPrivacyRoutes(app, rt, { authorize, parseBody });
  registerComplianceRoutes(
    app,
    { compliance: rt.compliance, reports: rt.complianceReports, config: () => rt.config.compliance },
    { authorize, parseBody },
  );
  if (rt.secrets)
    registerSecretsK8sRoutes(app, {
      secrets: rt.secrets,
      tokens: createMachineTokens({ store: rt.store, clock: rt.clock }),
      config: () => rt.config.secrets,
      authorize,
      emit: (e) => rt.bus.emit(e),
      clock: rt.clock,
    });

  await registerConsole(app);
  return app;
}
