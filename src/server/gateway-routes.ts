// The control-plane API behind the console's Edge page: the routes in force with a summary of their
// policies (never a secret), what the gateways decided over a time window (counts per decision per
// time bucket, top refused clients, countries, the latest decisions) and the WAF exclusions the
// tuner proposes from detections. Decisions are read from the audit log, where every gateway's
// `gateway.<decision>` events land; each carries a count for one (decision, route, client) per interval.
import type { FastifyInstance } from "fastify";
import type { Kysely } from "kysely";
import { z } from "zod";
import type { RampartConfig } from "../config/index.ts";
import { routeId } from "../config/index.ts";
import { type AuditTables, queryEntries } from "../monitoring/audit/index.ts";
import type { Decision } from "../network/gateway/decisions.ts";
import { createTuner, exclusionsYaml, withoutConfigured } from "../network/waf/tune.ts";
import { Invalid } from "../platform/errors.ts";
import type { RouteKit } from "./identity-routes.ts";
import type { Runtime } from "./runtime.ts";

type RouteConfig = RampartConfig["routes"][number];

/** Every decision, checked against the gateway's type so a new one is not silently left out. */
const DECISIONS: Record<Decision, { refused: boolean }> = {
  ip_blocked: { refused: true },
  country_blocked: { refused: true },
  lockdown_denied: { refused: true },
  ip_denied: { refused: true },
  geo_denied: { refused: true },
  rate_limited: { refused: true },
  challenged: { refused: false },
  bot_blocked: { refused: true },
  waf_blocked: { refused: true },
  waf_detected: { refused: false },
  auth_required: { refused: false },
  auth_failed: { refused: true },
  policy_denied: { refused: true },
  policy_shadow_denied: { refused: false },
  jit_required: { refused: true },
  upstream_error: { refused: false },
};
const DECISION_TYPES = Object.keys(DECISIONS).map((d) => `gateway.${d}`);

// Bounds: the page polls every few seconds, so one answer must stay cheap however busy the edge
// is. Events are already counted per interval at the gateway; 20,000 of them is hours of a heavy
// attack. Past the cap the answer says so (`truncated`) rather than showing partial counts as whole.
const MAX_WINDOW_MS = 30 * 86_400_000;
const MAX_ROWS = 20_000;
const MAX_BUCKETS = 240;
const WAF_PAGE = 1000;
const MAX_WAF_EVENTS = 20_000;
const LATEST = 50;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `30m`, `7d`, `90s` in milliseconds; undefined when it is not one. */
function duration(v: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(v.trim());
  return m ? Number(m[1]) * (UNITS[m[2] as string] as number) : undefined;
}

/** `since`: a duration before now (`24h`) or an ISO 8601 time. */
function since(v: string | undefined, now: Date, fallbackMs: number): Date {
  if (v === undefined) return new Date(now.getTime() - fallbackMs);
  const ago = duration(v);
  if (ago !== undefined) return new Date(now.getTime() - ago);
  const d = /^\d{4}-\d{2}-\d{2}/.test(v) ? new Date(v) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime()))
    throw new Invalid(`expected an ISO 8601 time or a duration such as 24h, 30m, 7d; got '${v}'`, "since");
  return d;
}

const windowQuery = z.strictObject({
  since: z.string().max(64).optional(),
  bucket: z.string().max(16).optional(),
  route: z.string().min(1).max(512).optional(),
});

const wafQuery = z.strictObject({
  since: z.string().max(64).optional(),
  route: z.string().min(1).max(512).optional(),
  blocked: z.enum(["true", "false"]).optional(),
});

function parseQuery<T>(schema: z.ZodType<T>, query: unknown): T {
  const r = schema.safeParse(query ?? {});
  if (r.success) return r.data;
  const first = r.error.issues[0];
  const where = first?.path.map(String).join(".") || "query";
  throw new Invalid(
    first?.code === "unrecognized_keys"
      ? `unknown query parameter: ${first.keys.join(", ")}`
      : (first?.message ?? "invalid query"),
    where,
  );
}

/** The window asked for, checked: from before now, not longer than the cap. */
function window(q: { since?: string | undefined }, now: Date, fallbackMs: number) {
  const from = since(q.since, now, fallbackMs);
  if (from.getTime() >= now.getTime()) throw new Invalid("must be before now", "since");
  if (now.getTime() - from.getTime() > MAX_WINDOW_MS)
    throw new Invalid("the window is at most 30 days (since=30d)", "since");
  return { from, to: now };
}

/** A route as a person needs to see it: where it answers, where it sends, what guards it. */
export function routeSummary(r: RouteConfig) {
  const upstreams = [r.upstream, ...(r.upstreams ?? [])].filter((u): u is string => u !== undefined);
  return {
    id: routeId(r),
    host: r.host ?? null,
    path: r.path,
    // The origin only: a URL's user:password and query may hold credentials.
    upstreams: upstreams.map((u) => new URL(u).origin),
    environment: r.environment ?? null,
    waf: r.waf ? { mode: r.waf.mode, paranoia: r.waf.paranoia, exclusions: r.waf.exclusions.length } : null,
    rateLimits: r.rateLimits.map((l) => ({
      name: l.name,
      limit: l.limit,
      windowSeconds: l.windowSeconds,
      by: l.by,
      shadow: l.shadow,
    })),
    geo: r.geo ? { allow: r.geo.allow, deny: r.geo.deny } : null,
    ipRules: { allow: r.ipRules.allow.length, deny: r.ipRules.deny.length },
    bots: r.bots ? { action: r.bots.action } : null,
    auth: r.auth
      ? { provider: r.auth.provider ?? null, required: r.auth.required, accept: r.auth.accept }
      : null,
    policy: r.policy ? { rules: r.policy.rules.length, shadow: r.policy.shadow } : null,
    standingAccess: r.standingAccess,
  };
}

interface Row {
  time: Date;
  type: string;
  actor: string;
  target: string | null;
  body: string;
}

const countOf = (data: Record<string, unknown>): number => {
  const c = data.count;
  return typeof c === "number" && Number.isInteger(c) && c >= 1 ? Math.min(c, 1_000_000_000) : 1;
};

/** The country a geo decision names: `geo_denied` carries `XX`, `country_blocked` `country:XX`. */
function countryOf(decision: string, detail: unknown): string | undefined {
  if (typeof detail !== "string") return undefined;
  const code = decision === "country_blocked" ? detail.replace(/^country:/, "") : detail;
  if (decision !== "geo_denied" && decision !== "country_blocked") return undefined;
  return /^[A-Z]{2}$/.test(code) ? code : "unknown";
}

/** Counts per decision per bucket, top refused clients, countries and the latest decisions. */
export function aggregateDecisions(
  rows: readonly Row[],
  o: { from: Date; to: Date; bucketMs: number; truncated: boolean },
) {
  const start = Math.floor(o.from.getTime() / o.bucketMs) * o.bucketMs;
  const n = Math.ceil((o.to.getTime() - start) / o.bucketMs);
  const buckets = Array.from({ length: n }, (_, i) => ({
    start: new Date(start + i * o.bucketMs).toISOString(),
    counts: {} as Record<string, number>,
  }));
  const totals: Record<string, number> = {};
  const clients = new Map<
    string,
    { address: string; count: number; lastSeen: string; decisions: Record<string, number> }
  >();
  const countries = new Map<string, number>();
  const latest: {
    time: string;
    decision: string;
    route: string;
    client: string;
    count: number;
    detail?: string;
  }[] = [];
  for (const r of rows) {
    const decision = r.type.slice("gateway.".length);
    let data: Record<string, unknown> = {};
    try {
      const body = JSON.parse(r.body) as { data?: unknown };
      if (typeof body.data === "object" && body.data !== null) data = body.data as Record<string, unknown>;
    } catch {
      // A body that does not parse counts once, without detail.
    }
    const count = countOf(data);
    const client = r.actor.startsWith("ip:") ? r.actor.slice(3) : r.actor;
    const route = r.target?.startsWith("route:") ? r.target.slice(6) : (r.target ?? "");
    const time = r.time.toISOString();
    const b = buckets[Math.floor((r.time.getTime() - start) / o.bucketMs)];
    if (b) b.counts[decision] = (b.counts[decision] ?? 0) + count;
    totals[decision] = (totals[decision] ?? 0) + count;
    if (DECISIONS[decision as Decision]?.refused && r.actor.startsWith("ip:")) {
      const c = clients.get(client) ?? { address: client, count: 0, lastSeen: time, decisions: {} };
      c.count += count;
      if (time > c.lastSeen) c.lastSeen = time;
      c.decisions[decision] = (c.decisions[decision] ?? 0) + count;
      clients.set(client, c);
    }
    const country = countryOf(decision, data.detail);
    if (country) countries.set(country, (countries.get(country) ?? 0) + count);
    if (latest.length < LATEST)
      latest.push({
        time,
        decision,
        route,
        client,
        count,
        // WAF details name rules and targets, never the matched value (that travels hashed).
        ...(typeof data.detail === "string" ? { detail: data.detail.slice(0, 512) } : {}),
      });
  }
  return {
    window: { from: o.from.toISOString(), to: o.to.toISOString() },
    bucketSeconds: o.bucketMs / 1000,
    truncated: o.truncated,
    totals,
    buckets,
    topClients: [...clients.values()]
      .sort((a, b) => b.count - a.count || a.address.localeCompare(b.address))
      .slice(0, 20),
    countries: [...countries.entries()]
      .map(([country, count]) => ({ country, count }))
      .sort((a, b) => b.count - a.count || a.country.localeCompare(b.country)),
    latest,
  };
}

export function registerGatewayRoutes(
  app: FastifyInstance,
  rt: Pick<Runtime, "clock" | "store" | "config">,
  o: RouteKit,
): void {
  const schema = { tags: ["gateway"], security: [{ bearer: [] }] };
  const db = (): Kysely<AuditTables> => rt.store.db.withTables<AuditTables>();

  app.get(
    "/api/v1/gateway/routes",
    {
      schema: {
        ...schema,
        description:
          "The routes in force and a summary of their policies (WAF mode, rate limits, geo, IP rules, auth); never secrets.",
      },
    },
    async (req) => {
      await o.authorize(req, "gateway:routes:read");
      // Read per request: a config reload replaces it whole.
      return { routes: rt.config.routes.map(routeSummary) };
    },
  );

  app.get(
    "/api/v1/gateway/decisions",
    {
      schema: {
        ...schema,
        description:
          "What the gateways decided since ?since= (duration such as 24h, or ISO time; default 24h, at most 30d): counts per decision per ?bucket= (such as 1h, 5m; default 1h), top refused clients, countries, the latest decisions. ?route= narrows to one route.",
      },
    },
    async (req) => {
      await o.authorize(req, "gateway:blocks:read");
      const q = parseQuery(windowQuery, req.query);
      const now = rt.clock.now();
      const { from, to } = window(q, now, 86_400_000);
      const bucketMs = q.bucket === undefined ? 3_600_000 : duration(q.bucket);
      if (bucketMs === undefined || bucketMs < 60_000)
        throw new Invalid(
          `expected a duration of 1m or more such as 5m, 1h, 1d; got '${q.bucket}'`,
          "bucket",
        );
      if ((to.getTime() - from.getTime()) / bucketMs > MAX_BUCKETS)
        throw new Invalid(`at most ${MAX_BUCKETS} buckets in the window: choose a longer bucket`, "bucket");
      let qb = db()
        .selectFrom("audit_entries")
        .select(["time", "type", "actor", "target", "body"])
        .where("type", "in", DECISION_TYPES)
        .where("time", ">=", from)
        .where("time", "<", new Date(to.getTime() + 1));
      if (q.route) qb = qb.where("target", "=", `route:${q.route}`);
      const rows = await qb
        .orderBy("time", "desc")
        .limit(MAX_ROWS + 1)
        .execute();
      return aggregateDecisions(rows.slice(0, MAX_ROWS), {
        from,
        to,
        bucketMs,
        truncated: rows.length > MAX_ROWS,
      });
    },
  );

  app.get(
    "/api/v1/gateway/waf/proposals",
    {
      schema: {
        ...schema,
        description:
          "WAF rule hits per route since ?since= (default 7d, at most 30d) from detections (?blocked=true: refusals too), and the scoped exclusions the tuner proposes, as YAML for the route's waf: section.",
      },
    },
    async (req) => {
      await o.authorize(req, "gateway:blocks:read");
      const q = parseQuery(wafQuery, req.query);
      const { from, to } = window(q, rt.clock.now(), 7 * 86_400_000);
      const types = ["gateway.waf_detected", ...(q.blocked === "true" ? ["gateway.waf_blocked"] : [])];
      const tuner = createTuner();
      let read = 0;
      let truncated = false;
      for (const type of types) {
        let cursor: string | undefined;
        do {
          const page = await queryEntries(
            db(),
            {
              type,
              from: from.toISOString(),
              to: new Date(to.getTime() + 1).toISOString(),
              ...(q.route ? { target: `route:${q.route}` } : {}),
              limit: WAF_PAGE,
              ...(cursor ? { cursor } : {}),
            },
            // Gateway events name addresses and routes, never people: nothing to look up.
            async (ref) => ref,
          );
          for (const e of page.entries) tuner.add(e);
          read += page.entries.length;
          cursor = page.next;
          if (cursor && read >= MAX_WAF_EVENTS) {
            truncated = true;
            cursor = undefined;
          }
        } while (cursor);
      }
      // Events name a route by its id (`routeId`); the tuner matches `host + path`, so each
      // configured route is handed over keyed by its id to find the exclusions it already has.
      const configured = rt.config.routes.map((r) => ({
        host: routeId(r),
        path: "",
        ...(r.waf ? { waf: r.waf } : {}),
      }));
      const result = withoutConfigured(tuner.result(), configured);
      return {
        window: { from: from.toISOString(), to: to.toISOString() },
        types,
        truncated,
        events: result.events,
        requests: result.requests,
        skipped: result.skipped,
        routes: result.routes.map((r) => ({
          route: r.route,
          proposed: r.proposed,
          notProposed: r.notProposed,
          allowlistCandidates: r.allowlistCandidates,
          yaml: r.proposed.length > 0 ? exclusionsYaml(r) : null,
        })),
      };
    },
  );
}
