// The scan evidence API: CI jobs post each scan's result (`rampart scan … --report-to`), and
// people and dashboards read runs and the per-finding state (first seen, last seen, fixed).
// Posting needs `scans:write` (a CI service key), reading `scans:read`.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import {
  createScanEvidence,
  type ScanEvidence,
  type ScanItem,
  scanReportSchema,
} from "../appsec/scan/evidence.ts";
import { DEFAULT_SLA } from "../appsec/scan/trivy/sla.ts";
import { type ScanResult, type ScanSeverity, scanSeverities } from "../appsec/scan/types.ts";
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

const findingsQuery = z.strictObject({
  kind: z.enum(kinds).optional(),
  source: z.string().min(1).max(256).optional(),
  severity: z.enum(scanSeverities).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).optional(),
});
const DAY_MS = 86_400_000;

/** A finding's remediation deadline, counted from its first sighting; null: none (info, or an accepted risk). */
export interface FindingSla {
  days: number;
  dueAt: string;
  overdue: boolean;
}

/** An open finding as the gates view shows it. */
export type GateFinding = ScanItem & { sla: FindingSla | null };

/** The SLA of `item` at `now` under the scanners' default days per severity. */
export function slaOf(item: ScanItem, now: Date): FindingSla | null {
  const days = DEFAULT_SLA[item.severity];
  if (days === undefined || item.suppressed) return null;
  const due = new Date(item.firstSeen).getTime() + days * DAY_MS;
  return { days, dueAt: new Date(due).toISOString(), overdue: due < now.getTime() };
}

const rank = (s: ScanSeverity) => scanSeverities.indexOf(s);

/** Overdue first, then the nearest deadline, then the most severe; findings without an SLA last. */
function byUrgency(a: GateFinding, b: GateFinding): number {
  const od = Number(b.sla?.overdue ?? false) - Number(a.sla?.overdue ?? false);
  if (od !== 0) return od;
  if (a.sla && b.sla && a.sla.dueAt !== b.sla.dueAt) return a.sla.dueAt < b.sla.dueAt ? -1 : 1;
  if (a.sla && !b.sla) return -1;
  if (b.sla && !a.sla) return 1;
  return rank(b.severity) - rank(a.severity) || a.fingerprint.localeCompare(b.fingerprint);
}

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
  app.get(
    "/api/v1/scans/findings",
    {
      schema: {
        ...schema,
        description:
          "Open findings with their SLA (days per severity from first seen: critical 7, high 30, medium 90, low 180), overdue first (?kind=&source=&severity=&limit=).",
      },
    },
    async (req) => {
      await o.authorize(req, "scans:read");
      const q = o.parseBody(findingsQuery, req.query);
      const items = await evidence.items({
        open: true,
        limit: q.limit ?? 10_000,
        ...(q.kind ? { kind: q.kind } : {}),
        ...(q.source ? { source: q.source } : {}),
      });
      const now = rt.clock.now();
      const findings = items
        .filter((i) => !q.severity || i.severity === q.severity)
        .map((i): GateFinding => ({ ...i, sla: slaOf(i, now) }))
        .sort(byUrgency);
      return { at: now.toISOString(), slaDays: DEFAULT_SLA, findings };
    },
  );
  return evidence;
}
