// The playbook API: the playbooks in force, running one (or dry-running it) against an incident,
// its runs and their steps, and ticking a manual step's checklist. Reads need `playbooks:read`;
// running and ticking need `playbooks:run`. The runner audits every run, step and tick itself, with
// the caller recorded as who triggered the run and as the actor of each tick.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Incidents } from "../monitoring/incidents/index.ts";
import type { Playbook, Playbooks } from "../monitoring/playbooks/index.ts";
import { NotFound, Unavailable } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";

const plainName = /^[A-Za-z_][\w-]*$/;

const runBody = z
  .strictObject({
    incident: z.string().trim().min(1).max(128).optional(),
    inputs: z
      .record(
        z.string().regex(plainName, "expected a plain name (letters, digits, _ and -)"),
        z.string().max(2000),
      )
      .optional(),
    dryRun: z.boolean().optional(),
  })
  .optional();

const checkBody = z.strictObject({ item: z.number().int().min(0).max(99).optional() }).optional();

const runsQuery = z.strictObject({
  incident: z.string().trim().min(1).max(128).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

/** A playbook as listed: what it is for, when it runs and its steps in outline. */
export function playbookSummary(p: Playbook) {
  return {
    id: p.id,
    title: p.title,
    ...(p.description !== undefined ? { description: p.description } : {}),
    ...(p.trigger ? { trigger: p.trigger } : {}),
    steps: p.steps.map((s) => ({
      id: s.id,
      phase: s.phase,
      title: s.title,
      ...(s.manual ? { manual: true } : { action: s.action }),
      ...(s.checklist ? { checklist: s.checklist } : {}),
      ...(s.deadline !== undefined ? { deadlineSeconds: s.deadline } : {}),
    })),
  };
}

/** Registers /api/v1/playbooks… and /api/v1/playbook-runs… on `app`. */
export function registerPlaybookRoutes(
  app: FastifyInstance,
  rt: { readonly playbooks: Playbooks | undefined; readonly incidents: Pick<Incidents, "get"> },
  o: RouteKit,
): void {
  const schema = { tags: ["playbooks"], security: [{ bearer: [] }] };
  const runner = (): Playbooks => {
    if (!rt.playbooks) throw new Unavailable("playbooks are not available on this server");
    return rt.playbooks;
  };
  const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name] as string;
  const read = (req: FastifyRequest) => o.authorize(req, "playbooks:read");
  const act = async (req: FastifyRequest) => (await o.authorize(req, "playbooks:run")).actor;
  const find = (id: string) => {
    const p = runner()
      .list()
      .find((x) => x.id === id);
    if (!p) throw new NotFound(`no playbook '${id}'`);
    return p;
  };

  app.get(
    "/api/v1/playbooks",
    {
      schema: {
        ...schema,
        description: "The playbooks in force (built-in and configured), with their trigger and steps.",
      },
    },
    async (req) => {
      await read(req);
      return { playbooks: runner().list().map(playbookSummary) };
    },
  );

  app.get(
    "/api/v1/playbooks/:id",
    {
      schema: {
        ...schema,
        description:
          "One playbook in full: its inputs, and each step's action, parameters, condition and deadline.",
      },
    },
    async (req) => {
      await read(req);
      return find(param(req, "id"));
    },
  );

  app.post(
    "/api/v1/playbooks/:id/run",
    {
      schema: {
        ...schema,
        description:
          "Run a playbook, against an incident when given; dryRun resolves and checks every step's parameters and runs nothing. Answers with the run.",
      },
    },
    async (req, reply) => {
      const by = await act(req);
      const body = o.parseBody(runBody, req.body) ?? {};
      const p = find(param(req, "id"));
      // The runner needs the incident's priority; an unknown incident is refused before anything runs.
      const incident = body.incident ? await rt.incidents.get(body.incident) : undefined;
      const run = await runner().run(
        p.id,
        {
          ...(incident ? { incident: { id: incident.id, priority: incident.priority } } : {}),
          ...(body.inputs ? { inputs: body.inputs } : {}),
          ...(body.dryRun ? { dryRun: true } : {}),
        },
        by,
      );
      return reply.status(201).send(run);
    },
  );

  app.get(
    "/api/v1/playbook-runs",
    {
      schema: {
        ...schema,
        description: "Playbook runs, newest first; filter by incident, at most limit (default 100).",
      },
    },
    async (req) => {
      await read(req);
      const q = o.parseBody(runsQuery, req.query ?? {});
      return {
        runs: await runner().runs({
          ...(q.incident ? { incident: q.incident } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.get(
    "/api/v1/playbook-runs/:run",
    { schema: { ...schema, description: "One run with each step's status, result, error and checklist." } },
    async (req) => {
      await read(req);
      return runner().get(param(req, "run"));
    },
  );

  app.post(
    "/api/v1/playbook-runs/:run/steps/:step/check",
    {
      schema: {
        ...schema,
        description:
          "Tick one item (0-based) of a manual step's checklist, or every item when none is given; the run completes once every step has.",
      },
    },
    async (req) => {
      const by = await act(req);
      const body = o.parseBody(checkBody, req.body) ?? {};
      return runner().check(param(req, "run"), param(req, "step"), body.item ?? "all", by);
    },
  );
}
