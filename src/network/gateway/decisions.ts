// What the gateway decided, as security events and Prometheus metrics. A flood must not become a
// flood of events: refusals are counted per (decision, route, client) and sent as one event per
// key per interval, carrying the count.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { newEvent, type SecurityEvent, type Severity } from "../../platform/events/index.ts";
import type { Clock } from "../../platform/clock.ts";

export type Decision =
  | "ip_blocked"
  /** The client's country is on the dynamic block list (detail: `country:XX`). */
  | "country_blocked"
  /** A route in lockdown refused the client (detail: `address`, `no_credential` or the credential). */
  | "lockdown_denied"
  | "ip_denied"
  | "geo_denied"
  | "rate_limited"
  | "challenged"
  | "bot_blocked"
  | "waf_blocked"
  /** The WAF matched on a route in detect mode: reported, not refused. */
  | "waf_detected"
  /** No credential on a route that needs one (a browser is sent to sign in). */
  | "auth_required"
  /** A credential that did not verify: forged, expired, revoked or malformed. */
  | "auth_failed"
  | "policy_denied"
  /** The route's policy would refuse, but it runs in shadow mode. */
  | "policy_shadow_denied"
  /** A person without a grant in force on a prod route. */
  | "jit_required"
  | "upstream_error";

const SEVERITY: Record<Decision, Severity> = {
  ip_blocked: "medium",
  country_blocked: "medium",
  lockdown_denied: "medium",
  ip_denied: "low",
  geo_denied: "low",
  rate_limited: "medium",
  // A challenge is routine (a browser solves it); a block means a bot that was sure to be one.
  challenged: "low",
  bot_blocked: "medium",
  waf_blocked: "high",
  waf_detected: "medium",
  auth_required: "info",
  auth_failed: "medium",
  policy_denied: "medium",
  policy_shadow_denied: "low",
  jit_required: "medium",
  upstream_error: "medium",
};

export interface DecisionRecorder {
  /**
   * Counts one decision. `sensitive` values (a WAF match's value) travel in the event's
   * `sensitive` field, which the audit log stores only as a keyed HMAC.
   */
  record(
    decision: Decision,
    route: string,
    client: string,
    detail?: string,
    sensitive?: Record<string, string>,
  ): void;
  /** A request answered: its route, status and time, for the metrics. */
  answered(route: string, status: number, seconds: number): void;
  /** Sends what is counted so far (on close, and every interval). */
  flush(): void;
  close(): void;
}

export interface GatewayMetrics {
  requests: Counter<"route" | "code">;
  seconds: Histogram<"route">;
  decisions: Counter<"route" | "decision">;
  upstreamHealthy: Gauge<"route" | "upstream">;
}

/** `upstreams()` is read at scrape time for the health gauge. */
export function createGatewayMetrics(
  registry: Registry,
  upstreams: () => { route: string; upstream: string; healthy: boolean }[],
): GatewayMetrics {
  return {
    requests: new Counter({
      name: "rampart_gateway_requests_total",
      help: "Requests answered by the gateway, by route and status class (2xx, 4xx, …).",
      labelNames: ["route", "code"],
      registers: [registry],
    }),
    seconds: new Histogram({
      name: "rampart_gateway_request_seconds",
      help: "Time from request to the end of the response, by route.",
      labelNames: ["route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    decisions: new Counter({
      name: "rampart_gateway_decisions_total",
      help: "Requests the gateway refused or could not serve, by route and decision.",
      labelNames: ["route", "decision"],
      registers: [registry],
    }),
    upstreamHealthy: new Gauge({
      name: "rampart_gateway_upstream_healthy",
      help: "1 while an upstream is in rotation, 0 while passive health has ejected it.",
      labelNames: ["route", "upstream"],
      registers: [registry],
      collect() {
        this.reset();
        for (const u of upstreams()) this.set({ route: u.route, upstream: u.upstream }, u.healthy ? 1 : 0);
      },
    }),
  };
}

const MAX_KEYS = 10_000;

export function createDecisionRecorder(o: {
  emit?: ((e: SecurityEvent) => void) | undefined;
  metrics?: GatewayMetrics | undefined;
  clock: Clock;
  source?: string | undefined;
  intervalMs?: number;
}): DecisionRecorder {
  const counts = new Map<
    string,
    {
      decision: Decision;
      route: string;
      client: string;
      detail?: string;
      sensitive?: Record<string, string>;
      count: number;
    }
  >();
  const flush = () => {
    if (counts.size === 0 || !o.emit) return counts.clear();
    const now = o.clock.now();
    for (const c of counts.values()) {
      o.emit(
        newEvent(
          {
            type: `gateway.${c.decision}`,
            severity: SEVERITY[c.decision],
            outcome:
              c.decision === "upstream_error"
                ? "error"
                : c.decision === "waf_detected"
                  ? "success"
                  : "denied",
            actor: { kind: "ip", id: c.client },
            target: { kind: "route", id: c.route },
            data: { count: c.count, ...(c.detail ? { detail: c.detail } : {}) },
            ...(c.sensitive ? { sensitive: c.sensitive } : {}),
            ...(o.source ? { source: o.source } : {}),
          },
          now,
        ),
      );
    }
    counts.clear();
  };
  const timer = setInterval(flush, o.intervalMs ?? 10_000);
  timer.unref();
  return {
    record(decision, route, client, detail, sensitive) {
      o.metrics?.decisions.inc({ route, decision });
      const key = `${decision}\0${route}\0${client}\0${detail ?? ""}\0${sensitive ? JSON.stringify(sensitive) : ""}`;
      const c = counts.get(key);
      if (c) return void c.count++;
      // A flood of distinct keys (addresses, payloads) is sent early rather than held in memory.
      if (counts.size >= MAX_KEYS) flush();
      counts.set(key, {
        decision,
        route,
        client,
        ...(detail ? { detail } : {}),
        ...(sensitive ? { sensitive } : {}),
        count: 1,
      });
    },
    answered(route, status, seconds) {
      if (!o.metrics) return;
      o.metrics.requests.inc({ route, code: `${Math.floor(status / 100)}xx` });
      o.metrics.seconds.observe({ route }, seconds);
    },
    flush,
    close() {
      clearInterval(timer);
      flush();
    },
  };
}
