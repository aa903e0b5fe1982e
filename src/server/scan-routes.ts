// The scan evidence API: CI jobs post each scan's result (`rampart scan … --report-to`), and
// people and dashboards read runs and the per-finding state (first seen, last seen, fixed).
// Posting needs `scans:write` (a CI service key), reading `scans:read`.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { createScanEvidence, type ScanEvidence, scanReportSchema } from "../appsec/scan/evidence.ts";
import type { ScanResult } from "../appsec/scan/types.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { Runtime } from "./runtime.ts";

const kinds = ["trivy", "k8s", "iac", "secrets"] as const;
const runsQuery = z.strictObject({
  kind: z.enum(kinds).optional(),
  source: z.string().min(1).max(256).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});
const itemsQuery = runsQuery.extend({
  open: z.enum(["true", "false"]).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});

/** Registers /api/v1/scans… on `app`; returns the evidence service it built. */
export function registerScanRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, "store" | "clock" | "bus">,
  o: RouteKit,
): ScanEvidence {
  const evidence = createScanEvidence({ store: rt.store, clock: rt.clock, emit: (e) => rt.bus.emit(e) });
  const schema = { tags: ["scans"], security: [{ bearer: [] }] };

  app.post(
    "/api/v1/scans",
    {
      schema: {
        ...schema,
        description:
          "Record a scan run { source, result: ScanResult }: new findings get first seen, findings of the same kind, source and target missing from this run are marked fixed. Answers the run, counts and each finding's first sighting.",
      },
    },
    async (req, reply) => {
      const { actor } = await o.authorize(req, "scans:write");
      const body = o.parseBody(scanReportSchema, req.body);
      const outcome = await evidence.record(body.result as ScanResult, body.source, actor);
      return reply.status(201).send(outcome);
    },
  );

  app.get(
    "/api/v1/scans",
    { schema: { ...schema, description: "Scan runs, newest first (?kind=&source=&limit=)." } },
    async (req) => {
      await o.authorize(req, "scans:read");
      const q = o.parseBody(runsQuery, req.query);
      return {
        runs: await evidence.runs({
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.source ? { source: q.source } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.get(
    "/api/v1/scans/items",
    {
      schema: {
        ...schema,
        description: "Findings with first seen, last seen and fixed (?kind=&source=&open=true|false&limit=).",
      },
    },
    async (req) => {
      await o.authorize(req, "scans:read");
      const q = o.parseBody(itemsQuery, req.query);
      return {
        items: await evidence.items({
          ...(q.kind ? { kind: q.kind } : {}),
          ...(q.source ? { source: q.source } : {}),
          ...(q.open ? { open: q.open === "true" } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );
  return evidence;
}
