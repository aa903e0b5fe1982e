// The compliance API: status, checks and their items, running the checks now, framework
// readiness reports (JSON, HTML, CSV, PDF), the OSCAL export and the auditor bundle, exceptions
// and evidence.
import type { FastifyInstance, FastifyReply } from "fastify";
import { z } from "zod";
import type { ComplianceConfig } from "../monitoring/compliance/config.ts";
import type { ComplianceService } from "../monitoring/compliance/service.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";
import { type ComplianceReports, reportFormats } from "./compliance-reports.ts";

const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
const runBody = z.strictObject({ checks: z.array(z.string().min(1)).max(100).optional() });
const windowQuery = z.strictObject({ from: instant.optional(), to: instant.optional() });
const reportQuery = windowQuery.extend({ format: z.enum(reportFormats).default("json") });
const frameworksQuery = windowQuery.extend({ frameworks: z.string().min(1).optional() });
const exceptionBody = z.strictObject({
  checkId: z.string().min(1),
  resource: z.string().min(1).max(1024),
  justification: z.string().max(4000),
  expiresAt: instant,
});
const evidenceBody = z.strictObject({
  kind: z.enum(["file", "link", "attestation"]),
  title: z.string().trim().min(1).max(300),
  controls: z.array(z.string().min(1)).min(1).max(100),
  ref: z.string().trim().min(1).max(2048),
  /** A file's bytes, base64; an attestation's statement as text. */
  contentBase64: z.string().max(15_000_000).optional(),
  statement: z.string().max(100_000).optional(),
  validUntil: instant.optional(),
});
const reviewBody = z.strictObject({
  state: z.enum(["approved", "rejected"]),
  note: z.string().max(2000).optional(),
});
const evidenceQuery = windowQuery.extend({
  control: z.string().min(1).optional(),
  kind: z.enum(["snapshot", "file", "link", "attestation"]).optional(),
});

const windowOf = (q: { from?: Date | undefined; to?: Date | undefined }) => {
  if (!q.from && !q.to) return undefined;
  if (!q.from || !q.to) throw new Invalid("give both from and to", "from");
  if (q.from >= q.to) throw new Invalid("must be before to", "from");
  return { from: q.from, to: q.to };
};

export function registerComplianceRoutes(
  app: FastifyInstance,
  rt: { compliance: ComplianceService; reports: ComplianceReports; config: () => ComplianceConfig },
  o: RouteKit,
): void {
  const c = rt.compliance;
  const schema = { tags: ["compliance"], security: [{ bearer: [] }] };
  const read = (req: Parameters<RouteKit["authorize"]>[0]) => o.authorize(req, "compliance:read");
  const frameworksOf = (v: string | undefined) =>
    v ? v.split(",").map((s) => s.trim()) : rt.config().frameworks;

  app.get(
    "/api/v1/compliance/status",
    { schema: { ...schema, description: "Readiness per framework and each check's items by standing." } },
    async (req) => {
      await read(req);
      return c.status();
    },
  );

  app.get(
    "/api/v1/compliance/checks",
    { schema: { ...schema, description: "Every check with its current items (standing, SLA deadline)." } },
    async (req) => {
      await read(req);
      return { checks: await c.checks() };
    },
  );

  app.get(
    "/api/v1/compliance/checks/:id",
    { schema: { ...schema, description: "One check with its current items." } },
    async (req) => {
      await read(req);
      return c.check((req.params as { id: string }).id);
    },
  );

  app.post(
    "/api/v1/compliance/run",
    { schema: { ...schema, description: "Run the checks now ({ checks?: [ids] }), then sync tickets." } },
    async (req) => {
      await o.authorize(req, "compliance:run");
      const body = o.parseBody(runBody, req.body ?? {});
      return c.runChecks(body.checks ? { only: body.checks } : {});
    },
  );

  app.get(
    "/api/v1/compliance/catalogue",
    {
      schema: {
        ...schema,
        description: "Frameworks, requirements and Rampart's controls with their mappings.",
      },
    },
    async (req) => {
      await read(req);
      return c.catalogue;
    },
  );

  app.get(
    "/api/v1/compliance/frameworks/:id/report",
    {
      schema: {
        ...schema,
        description: "A framework's readiness (?format=json|html|csv|pdf&from=&to= for an audit window).",
      },
    },
    async (req, reply) => {
      await o.authorize(req, "compliance:reports:read");
      const q = o.parseBody(reportQuery, req.query);
      const r = await c.readiness((req.params as { id: string }).id, windowOf(q));
      return send(reply, await rt.reports.render(r, q.format));
    },
  );

  app.get(
    "/api/v1/compliance/oscal",
    {
      schema: {
        ...schema,
        description: "OSCAL assessment-results for the frameworks (?frameworks=dpdp,iso27001&from=&to=).",
      },
    },
    async (req) => {
      await o.authorize(req, "compliance:reports:read");
      const q = o.parseBody(frameworksQuery, req.query);
      return rt.reports.oscal(frameworksOf(q.frameworks), windowOf(q));
    },
  );

  app.get(
    "/api/v1/compliance/bundle",
    {
      schema: {
        ...schema,
        description:
          "The auditor bundle for a window (?from=&to=&frameworks=): reports, OSCAL, evidence, the audit log's own bundle, a SHA-256 manifest and its Ed25519 signature; files base64.",
      },
    },
    async (req) => {
      await o.authorize(req, "compliance:reports:read");
      const q = o.parseBody(frameworksQuery, req.query);
      const window = windowOf(q);
      if (!window) throw new Invalid("an auditor bundle needs from and to", "from");
      return rt.reports.bundle(frameworksOf(q.frameworks), window);
    },
  );

  app.get(
    "/api/v1/compliance/exceptions",
    { schema: { ...schema, description: "Exceptions (accepted risks) with their state and expiry." } },
    async (req) => {
      await read(req);
      return { exceptions: await c.exceptions() };
    },
  );

  app.post(
    "/api/v1/compliance/exceptions",
    {
      schema: {
        ...schema,
        description:
          "Request an exception { checkId, resource ('*' for all), justification, expiresAt }; someone else approves it.",
      },
    },
    async (req, reply) => {
      const caller = await o.authorize(req, "compliance:exceptions:write");
      const body = o.parseBody(exceptionBody, req.body);
      return reply.code(201).send(await c.requestException(body, caller.actor));
    },
  );

  for (const decision of ["approve", "reject", "revoke"] as const)
    app.post(
      `/api/v1/compliance/exceptions/:id/${decision}`,
      {
        schema: { ...schema, description: `${decision[0]?.toUpperCase()}${decision.slice(1)} an exception.` },
      },
      async (req) => {
        const caller = await o.authorize(
          req,
          decision === "approve" ? "compliance:exceptions:approve" : "compliance:exceptions:write",
        );
        const state = decision === "approve" ? "approved" : decision === "reject" ? "rejected" : "revoked";
        return c.decideException((req.params as { id: string }).id, state, caller.actor);
      },
    );

  app.get(
    "/api/v1/compliance/evidence",
    {
      schema: {
        ...schema,
        description: "Evidence (?control=&kind=&from=&to=): snapshots and what people added.",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(evidenceQuery, req.query);
      return {
        evidence: await c.evidence({
          ...(q.control ? { control: q.control } : {}),
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.from ? { from: q.from } : {}),
          ...(q.to ? { to: q.to } : {}),
        }),
      };
    },
  );

  app.get(
    "/api/v1/compliance/evidence/:id",
    { schema: { ...schema, description: "One piece of evidence; ?download=true returns its content." } },
    async (req, reply) => {
      await read(req);
      const { evidence, content } = await c.evidenceContent((req.params as { id: string }).id);
      if ((req.query as { download?: string }).download !== "true") return evidence;
      if (!content) throw new NotFound("this evidence has no content (a link)");
      return reply
        .type(evidence.kind === "snapshot" ? "application/json" : "application/octet-stream")
        .header("content-disposition", "attachment")
        .header("x-content-sha256", evidence.sha256)
        .send(content);
    },
  );

  app.post(
    "/api/v1/compliance/evidence",
    {
      schema: {
        ...schema,
        description:
          "Add evidence { kind: file|link|attestation, title, controls, ref, contentBase64 | statement, validUntil }; it waits for review.",
      },
    },
    async (req, reply) => {
      const caller = await o.authorize(req, "compliance:evidence:write");
      const b = o.parseBody(evidenceBody, req.body);
      const content =
        b.contentBase64 !== undefined
          ? Buffer.from(b.contentBase64, "base64")
          : b.statement !== undefined
            ? Buffer.from(b.statement, "utf8")
            : undefined;
      const added = await c.addEvidence(
        {
          kind: b.kind,
          title: b.title,
          controls: b.controls,
          ref: b.ref,
          ...(content ? { content } : {}),
          ...(b.validUntil ? { validUntil: b.validUntil } : {}),
        },
        caller.actor,
      );
      return reply.code(201).send(added);
    },
  );

  app.post(
    "/api/v1/compliance/evidence/:id/review",
    {
      schema: { ...schema, description: "Approve or reject evidence { state, note }; not by who added it." },
    },
    async (req) => {
      const caller = await o.authorize(req, "compliance:evidence:review");
      const b = o.parseBody(reviewBody, req.body);
      return c.reviewEvidence((req.params as { id: string }).id, b.state, caller.actor, b.note);
    },
  );
}

function send(reply: FastifyReply, out: { contentType: string; body: string | Buffer | object }) {
  return reply.type(out.contentType).send(out.body);
}
