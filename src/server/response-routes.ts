// The detection and alerting API for operators: the detection rules in force with what each has
// matched and fired, the alert outbox (what went out, what is stuck, retry a failed one), a test
// alert to check the routing end to end, and the health of the SIEM exporters. Reads need
// `detect:read`, `alerts:read` or `siem:read`; retrying and test alerts need `alerts:write`.
import { randomUUID } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { RampartConfig } from "../config/index.ts";
import { type AlertMessage, outboxStatuses, routeMessage } from "../monitoring/alerts/index.ts";
import { builtinRules, detectRules, type Rule, type RuleStats } from "../monitoring/detect/index.ts";
import { priorities } from "../monitoring/detect/types.ts";
import type { Clock } from "../platform/clock.ts";
import { type EventBus, newEvent } from "../platform/events/index.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { IncidentResponse } from "./response.ts";

/** A rule as listed: its definition, where it comes from and what it has done since the server started. */
export interface RuleView {
  id: string;
  title: string;
  priority: Rule["priority"];
  source: "builtin" | "config";
  condition: Rule["condition"];
  match: Rule["match"];
  groupBy: Rule["groupBy"];
  suppress?: string;
  summary?: string;
  stats: RuleStats;
}

const outboxQuery = z.strictObject({
  status: z.enum(outboxStatuses).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

const testBody = z
  .strictObject({
    priority: z.enum(priorities).optional(),
    /** What the test message says, after the fixed prefix; the default names who sent it. */
    text: z.string().trim().min(1).max(500).optional(),
  })
  .optional();

const noStats = { matched: 0, fired: 0, errors: 0, groups: 0, evicted: 0 };

/** The rules in force for `config`, each with the detector's counters (zeros before its first event). */
export function ruleViews(
  config: Pick<RampartConfig, "detect">,
  perRule: Record<string, RuleStats>,
): RuleView[] {
  const builtin = new Set<Rule>(builtinRules);
  return detectRules(config.detect).map((r) => ({
    id: r.id,
    title: r.title,
    priority: r.priority,
    source: builtin.has(r) ? "builtin" : "config",
    condition: r.condition,
    match: r.match,
    groupBy: r.groupBy,
    ...(r.suppress !== undefined ? { suppress: r.suppress } : {}),
    ...(r.summary !== undefined ? { summary: r.summary } : {}),
    stats: { ...noStats, ...perRule[r.id] },
  }));
}

/** Registers /api/v1/detect/rules, /api/v1/alerts/… and /api/v1/siem/exporters on `app`. */
export function registerResponseRoutes(
  app: FastifyInstance,
  /** `config` is read per request: a reload changes the rules and the routing. */
  rt: {
    readonly config: RampartConfig;
    readonly response: Pick<IncidentResponse, "detector" | "alerts" | "siem">;
    readonly bus: Pick<EventBus, "publish">;
    readonly clock: Clock;
  },
  o: RouteKit,
): void {
  const param = (req: FastifyRequest, name: string) => (req.params as Record<string, string>)[name] as string;

  app.get(
    "/api/v1/detect/rules",
    {
      schema: {
        tags: ["detect"],
        security: [{ bearer: [] }],
        description:
          "The detection rules in force (built-in and configured) with their condition, and since the server started: events matched, detections fired, rule errors and groups tracked.",
      },
    },
    async (req) => {
      await o.authorize(req, "detect:read");
      return { rules: ruleViews(rt.config, rt.response.detector.stats().perRule) };
    },
  );

  const alerts = { tags: ["alerts"], security: [{ bearer: [] }] };

  app.get(
    "/api/v1/alerts/outbox",
    {
      schema: {
        ...alerts,
        description:
          "Alert outbox rows, newest first: one per message and channel (by name; never its URL or keys), with status pending, delivered or failed, attempts and the last error.",
      },
    },
    async (req) => {
      await o.authorize(req, "alerts:read");
      const q = o.parseBody(outboxQuery, req.query ?? {});
      return {
        entries: await rt.response.alerts.list({
          ...(q.status ? { status: q.status } : {}),
          ...(q.limit ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.post(
    "/api/v1/alerts/outbox/:id/retry",
    {
      schema: {
        ...alerts,
        description:
          "Queue a failed alert again from its first attempt (after fixing the channel); 409 when it is not failed.",
      },
    },
    async (req) => {
      const { actor } = await o.authorize(req, "alerts:write");
      return rt.response.alerts.retry(param(req, "id"), actor);
    },
  );

  app.post(
    "/api/v1/alerts/test",
    {
      schema: {
        ...alerts,
        description:
          "Send a test notice of the given priority (default P3) through the routing in force; answers with the channels it was queued for, so an operator can check routes and receivers.",
      },
    },
    async (req, reply) => {
      const { actor } = await o.authorize(req, "alerts:write");
      const body = o.parseBody(testBody, req.body) ?? {};
      const priority = body.priority ?? "P3";
      const now = rt.clock.now();
      const id = `notice:test:${randomUUID()}`;
      const message: AlertMessage = {
        kind: "notice",
        id,
        priority,
        title: `Rampart test alert (${priority})`,
        summary:
          body.text ?? `Test alert sent by ${actor.kind} ${actor.id}: the route to this channel works.`,
        key: id,
        at: now.toISOString(),
        details: { test: true, sentBy: `${actor.kind}:${actor.id}` },
      };
      const channels = routeMessage(rt.config.alerts, message);
      const { queued } = await rt.response.alerts.send(message);
      // Who tested what is audited: a test message reaches the same people as a real one.
      await rt.bus.publish([
        newEvent(
          {
            type: "alert.test_sent",
            severity: "low",
            actor,
            target: { kind: "alert", id },
            retention: "audit",
            data: { priority, channels },
          },
          now,
        ),
      ]);
      return reply.status(channels.length > 0 ? 202 : 200).send({ id, priority, channels, queued });
    },
  );

  app.get(
    "/api/v1/siem/exporters",
    {
      schema: {
        tags: ["siem"],
        security: [{ bearer: [] }],
        description:
          "Each SIEM exporter: events queued, exported and dropped since the server started, whether its receiver answers, and its last error.",
      },
    },
    async (req) => {
      await o.authorize(req, "siem:read");
      return { exporters: rt.response.siem.stats() };
    },
  );
}
