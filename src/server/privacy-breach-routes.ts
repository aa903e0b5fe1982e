// The breach register API: list, open, read, update (facts and status), record a notification and
// get the draft notices; and the retention run. Reads need `privacy:read`, changes `privacy:write`;
// every change is audited by the register with the caller as actor.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  type BreachRegister,
  breachStatuses,
  draftKinds,
  notifySchema,
  openBreachSchema,
  updateBreachSchema,
} from "../data/privacy/breach/index.ts";
import type { Retention } from "../data/privacy/retention/index.ts";
import type { Clock } from "../platform/clock.ts";
import { Unavailable } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";

const listQuery = z.strictObject({
  status: z.enum(breachStatuses).optional(),
  open: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const draftQuery = z.strictObject({ kind: z.enum(draftKinds).optional() });
const retentionBody = z.strictObject({ dryRun: z.boolean().default(false) }).prefault({});

/** Registers /api/v1/privacy/breaches… and /api/v1/privacy/retention/run on `app`. */
export function registerPrivacyBreachRoutes(
  app: FastifyInstance,
  deps: {
    readonly breaches: BreachRegister;
    readonly retention?: Retention | undefined;
    readonly clock: Clock;
  },
  o: RouteKit,
): void {
  const { breaches } = deps;
  const schema = { tags: ["privacy"], security: [{ bearer: [] }] };
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const read = (req: FastifyRequest) => o.authorize(req, "privacy:read");
  const write = async (req: FastifyRequest) => (await o.authorize(req, "privacy:write")).actor;
  const path = "/api/v1/privacy/breaches";

  app.get(
    path,
    {
      schema: {
        ...schema,
        description: "Breach records, most recent awareness first; filter by status, open, limit.",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(listQuery, req.query ?? {});
      return {
        breaches: await breaches.list({
          ...(q.status ? { status: q.status } : {}),
          ...(q.open ? { open: q.open === "true" } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.post(
    path,
    {
      schema: {
        ...schema,
        description:
          "Open a breach record: { title, description, awareAt?, regimes?, categories, counts, consequences, measures… }; its clocks start at awareAt.",
      },
    },
    async (req, reply) => {
      const by = await write(req);
      return reply.status(201).send(await breaches.open(o.parseBody(openBreachSchema, req.body), by));
    },
  );

  app.get(
    `${path}/:id`,
    { schema: { ...schema, description: "One breach with its clocks and notifications." } },
    async (req) => {
      await read(req);
      return breaches.get(id(req));
    },
  );

  app.patch(
    `${path}/:id`,
    {
      schema: {
        ...schema,
        description:
          "Change facts and/or move the status ({ status, reason }; not_reportable needs the reason). 409 names the allowed moves.",
      },
    },
    async (req) => {
      const by = await write(req);
      return breaches.update(id(req), o.parseBody(updateBreachSchema, req.body), by);
    },
  );

  app.post(
    `${path}/:id/notifications`,
    {
      schema: {
        ...schema,
        description:
          "Record a notification sent: { regime, recipient: authority|subjects|authority_report, sentAt?, reference? }; it meets the matching clock.",
      },
    },
    async (req, reply) => {
      const by = await write(req);
      const n = o.parseBody(notifySchema, req.body);
      const sentAt = n.sentAt ? new Date(n.sentAt) : deps.clock.now();
      return reply
        .status(201)
        .send(await breaches.recordNotification(id(req), n.regime, n.recipient, sentAt, n.reference, by));
    },
  );

  app.get(
    `${path}/:id/drafts`,
    {
      schema: { ...schema, description: "Draft notices (Markdown) for the breach's regimes, or one ?kind=." },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(draftQuery, req.query ?? {});
      return { drafts: await breaches.drafts(id(req), q.kind) };
    },
  );

  app.post(
    "/api/v1/privacy/retention/run",
    {
      schema: {
        ...schema,
        description:
          "Run the data map's retention policies now: { dryRun? }. A dry run reports what would happen and changes nothing.",
      },
    },
    async (req) => {
      const by = await write(req);
      const { dryRun } = o.parseBody(retentionBody, req.body ?? {});
      if (!deps.retention)
        throw new Unavailable("retention is not set up: the server has no data map or connectors");
      return deps.retention.run({ dryRun, by });
    },
  );
}
