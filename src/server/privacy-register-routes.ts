// The processor and DPIA registers: list, read, add, replace, remove, approve DPIAs, and the
// findings compliance checks read. Reads need `privacy:read`, changes `privacy:write`.
import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  approveDpiaSchema,
  dpiaSchema,
  type PrivacyRegister,
  processorSchema,
} from "../data/privacy/register/index.ts";
import { Invalid } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";

/** Registers /api/v1/privacy/processors… and /api/v1/privacy/dpias… on `app`. */
export function registerPrivacyRegisterRoutes(
  app: FastifyInstance,
  rt: { readonly privacyRegister: PrivacyRegister },
  o: RouteKit,
): void {
  const reg = rt.privacyRegister;
  const schema = { tags: ["privacy"], security: [{ bearer: [] }] };
  const key = (req: FastifyRequest) => (req.params as { key: string }).key;
  const read = (req: FastifyRequest) => o.authorize(req, "privacy:read");
  const write = async (req: FastifyRequest) => (await o.authorize(req, "privacy:write")).actor;
  /** The body of a PUT must name the key of its path, or leave it out. */
  const keyed = (req: FastifyRequest): Record<string, unknown> => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== "object" || Array.isArray(body)) return body;
    if (body.key !== undefined && body.key !== key(req))
      throw new Invalid(`must match the path's key '${key(req)}'`, "key");
    return { ...body, key: key(req) };
  };

  app.get(
    "/api/v1/privacy/processors",
    { schema: { ...schema, description: "Processors (vendors) handling personal data." } },
    async (req) => {
      await read(req);
      return { processors: await reg.listProcessors() };
    },
  );
  app.get(
    "/api/v1/privacy/processors/findings",
    {
      schema: {
        ...schema,
        description: "Processors without a DPA, stale assessments, overdue reviews, unlawful transfers.",
      },
    },
    async (req) => {
      await read(req);
      return { findings: (await reg.findings()).filter((f) => f.kind === "processor") };
    },
  );
  app.post(
    "/api/v1/privacy/processors",
    { schema: { ...schema, description: "Add a processor; 409 when the key exists." } },
    async (req, reply) => {
      const by = await write(req);
      return reply.status(201).send(await reg.addProcessor(o.parseBody(processorSchema, req.body), by));
    },
  );
  app.get(
    "/api/v1/privacy/processors/:key",
    { schema: { ...schema, description: "One processor." } },
    async (req) => {
      await read(req);
      return reg.getProcessor(key(req));
    },
  );
  app.put(
    "/api/v1/privacy/processors/:key",
    { schema: { ...schema, description: "Create or replace a processor (201 when created)." } },
    async (req, reply) => {
      const by = await write(req);
      const { processor, created } = await reg.putProcessor(o.parseBody(processorSchema, keyed(req)), by);
      return reply.status(created ? 201 : 200).send(processor);
    },
  );
  app.delete(
    "/api/v1/privacy/processors/:key",
    {
      schema: {
        ...schema,
        description: "Remove a processor (prefer status: offboarded to keep the record).",
      },
    },
    async (req) => {
      const by = await write(req);
      await reg.removeProcessor(key(req), by);
      return { deleted: key(req) };
    },
  );

  app.get(
    "/api/v1/privacy/dpias",
    {
      schema: {
        ...schema,
        description: "Data protection impact assessments; state draft|approved|review_due.",
      },
    },
    async (req) => {
      await read(req);
      return { dpias: await reg.listDpias() };
    },
  );
  app.get(
    "/api/v1/privacy/dpias/findings",
    { schema: { ...schema, description: "DPIAs not approved or overdue for review." } },
    async (req) => {
      await read(req);
      return { findings: (await reg.findings()).filter((f) => f.kind === "dpia") };
    },
  );
  app.post(
    "/api/v1/privacy/dpias",
    { schema: { ...schema, description: "Add a DPIA (as draft); 409 when the key exists." } },
    async (req, reply) => {
      const by = await write(req);
      return reply.status(201).send(await reg.addDpia(o.parseBody(dpiaSchema, req.body), by));
    },
  );
  app.get("/api/v1/privacy/dpias/:key", { schema: { ...schema, description: "One DPIA." } }, async (req) => {
    await read(req);
    return reg.getDpia(key(req));
  });
  app.put(
    "/api/v1/privacy/dpias/:key",
    { schema: { ...schema, description: "Create or replace a DPIA; a changed DPIA returns to draft." } },
    async (req, reply) => {
      const by = await write(req);
      const { dpia, created } = await reg.putDpia(o.parseBody(dpiaSchema, keyed(req)), by);
      return reply.status(created ? 201 : 200).send(dpia);
    },
  );
  app.post(
    "/api/v1/privacy/dpias/:key/approve",
    {
      schema: {
        ...schema,
        description: "Approve a DPIA: { approvedBy?, outcome?, reviewDue? } (review defaults to a year).",
      },
    },
    async (req) => {
      const by = await write(req);
      return reg.approveDpia(key(req), o.parseBody(approveDpiaSchema, req.body ?? {}), by);
    },
  );
  app.delete(
    "/api/v1/privacy/dpias/:key",
    { schema: { ...schema, description: "Remove a DPIA." } },
    async (req) => {
      const by = await write(req);
      await reg.removeDpia(key(req), by);
      return { deleted: key(req) };
    },
  );
}
