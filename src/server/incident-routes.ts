// The incident API: open, move through the life cycle, assign, annotate, link evidence, review,
// and the MTTA/MTTR report. Reads need `incidents:read`, every change `incidents:write`; each
// change is audited by the incident service with the caller as actor.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import {
  assignSchema,
  evidenceSchema,
  type Incidents,
  incidentStates,
  noteSchema,
  openIncidentSchema,
  prioritySchemaBody,
  reviewSchema,
  transitionSchema,
} from "../monitoring/incidents/index.ts";
import { priorities } from "../monitoring/detect/types.ts";
import type { Clock } from "../platform/clock.ts";
import { Invalid } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `30d`, `12h` back from `now`, or an ISO date-time. */
export function pointInTime(text: string, now: Date, where: string): Date {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (m) return new Date(now.getTime() - Number(m[1]) * (UNITS[m[2] as string] as number) * 1000);
  const t = Date.parse(text);
  if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}/.test(text))
    throw new Invalid(`expected a duration such as 30d or an ISO date-time; got '${text}'`, where);
  return new Date(t);
}

const listQuery = z.strictObject({
  state: z.enum(incidentStates).optional(),
  priority: z.enum(priorities).optional(),
  open: z.enum(["true", "false"]).optional(),
  since: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const reportQuery = z.strictObject({ since: z.string().optional(), until: z.string().optional() });
const ackSchema = z.strictObject({}).optional();

/** Registers /api/v1/incidents… on `app`. */
export function registerIncidentRoutes(
  app: FastifyInstance,
  rt: { readonly incidents: Incidents; readonly clock: Clock },
  o: RouteKit,
): void {
  const { incidents } = rt;
  const schema = { tags: ["incidents"], security: [{ bearer: [] }] };
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const read = (req: FastifyRequest) => o.authorize(req, "incidents:read");
  const write = async (req: FastifyRequest) => (await o.authorize(req, "incidents:write")).actor;

  app.get(
    "/api/v1/incidents",
    {
      schema: {
        ...schema,
        description:
          "Incidents, newest first; filter by state, priority, open=true|false, since (30d or ISO), limit.",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(listQuery, req.query ?? {});
      return {
        incidents: await incidents.list({
          ...(q.state ? { state: q.state } : {}),
          ...(q.priority ? { priority: q.priority } : {}),
          ...(q.open ? { open: q.open === "true" } : {}),
          ...(q.since ? { since: pointInTime(q.since, rt.clock.now(), "since") } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.get(
    "/api/v1/incidents/report",
    {
      schema: {
        ...schema,
        description:
          "Per priority: opened, closed, open now, MTTA and MTTR (mean, median, p90) over [since, until); since defaults to 30d.",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(reportQuery, req.query ?? {});
      const now = rt.clock.now();
      const since = pointInTime(q.since ?? "30d", now, "since");
      const until = q.until ? pointInTime(q.until, now, "until") : now;
      if (until <= since) throw new Invalid("must be after since", "until");
      return incidents.report({ since, until });
    },
  );

  app.post(
    "/api/v1/incidents",
    { schema: { ...schema, description: "Open an incident: { title, priority, summary?, commander? }." } },
    async (req, reply) => {
      const by = await write(req);
      return reply.status(201).send(await incidents.open(o.parseBody(openIncidentSchema, req.body), by));
    },
  );

  app.get(
    "/api/v1/incidents/:id",
    { schema: { ...schema, description: "One incident with its timeline." } },
    async (req) => {
      await read(req);
      return incidents.get(id(req));
    },
  );

  app.post(
    "/api/v1/incidents/:id/transition",
    {
      schema: {
        ...schema,
        description:
          "Move to another state: { to, note? }. 409 names the allowed next states; reopening a closed incident needs a note.",
      },
    },
    async (req) => {
      const by = await write(req);
      const { to, note } = o.parseBody(transitionSchema, req.body);
      return incidents.transition(id(req), to, by, note);
    },
  );

  app.post(
    "/api/v1/incidents/:id/ack",
    { schema: { ...schema, description: "Acknowledge: a detected incident moves to triaged." } },
    async (req) => {
      const by = await write(req);
      o.parseBody(ackSchema, req.body);
      return incidents.acknowledge(id(req), by);
    },
  );

  app.post(
    "/api/v1/incidents/:id/assign",
    { schema: { ...schema, description: "Name the incident commander: { commander }." } },
    async (req) => {
      const by = await write(req);
      return incidents.assign(id(req), o.parseBody(assignSchema, req.body).commander, by);
    },
  );

  app.post(
    "/api/v1/incidents/:id/notes",
    { schema: { ...schema, description: "Add a note to the timeline: { text }." } },
    async (req, reply) => {
      const by = await write(req);
      return reply
        .status(201)
        .send(await incidents.note(id(req), o.parseBody(noteSchema, req.body).text, by));
    },
  );

  app.post(
    "/api/v1/incidents/:id/evidence",
    {
      schema: {
        ...schema,
        description: "Link evidence: { kind: event|audit_bundle|url|file, ref, sha256?, description }.",
      },
    },
    async (req, reply) => {
      const by = await write(req);
      return reply
        .status(201)
        .send(await incidents.linkEvidence(id(req), o.parseBody(evidenceSchema, req.body), by));
    },
  );

  app.post(
    "/api/v1/incidents/:id/review",
    {
      schema: {
        ...schema,
        description:
          "Record the post-incident review: { summary, rootCause, lessons[], actionItems[{title, owner?, due?}] }.",
      },
    },
    async (req) => {
      const by = await write(req);
      return incidents.review(id(req), o.parseBody(reviewSchema, req.body), by);
    },
  );

  app.post(
    "/api/v1/incidents/:id/priority",
    { schema: { ...schema, description: "Change the priority: { priority, reason }." } },
    async (req) => {
      const by = await write(req);
      const { priority, reason } = o.parseBody(prioritySchemaBody, req.body);
      return incidents.setPriority(id(req), priority, by, reason);
    },
  );
}
