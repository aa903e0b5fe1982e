// Prometheus metrics: one registry per running process, passed to modules explicitly.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { EventBus, SecurityEvent } from "../../platform/events/index.ts";

export interface Metrics {
  readonly registry: Registry;
  readonly eventsTotal: Counter<"type" | "outcome">;
  readonly eventBatchesTotal: Counter<"result">;
  readonly auditAppendSeconds: Histogram;
  readonly auditCheckpointsTotal: Counter;
  readonly eventQueue: Gauge;
  /** Sources of gauges read at scrape time. */
  readonly sample: { queuedEvents: () => number };
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  const sample = { queuedEvents: () => 0 };
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "rampart_" });
  return {
    registry,
    eventsTotal: new Counter({
      name: "rampart_events_total",
      help: "Security events delivered on the event spine, by type and outcome.",
      labelNames: ["type", "outcome"],
      registers: [registry],
    }),
    eventBatchesTotal: new Counter({
      name: "rampart_event_batches_total",
      help: "Event batches received from gateways, by result (accepted, duplicate, rejected).",
      labelNames: ["result"],
      registers: [registry],
    }),
    auditAppendSeconds: new Histogram({
      name: "rampart_audit_append_seconds",
      help: "Time to durably append one batch to the audit log.",
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers: [registry],
    }),
    auditCheckpointsTotal: new Counter({
      name: "rampart_audit_checkpoints_total",
      help: "Signed audit checkpoints written.",
      registers: [registry],
    }),
    eventQueue: new Gauge({
      name: "rampart_event_queue_events",
      help: "Events waiting for the audit log (grows while the database is unavailable).",
      registers: [registry],
      collect() {
        this.set(sample.queuedEvents());
      },
    }),
    sample,
  };
}

/** Counts every event that reaches the spine. */
export function countEvents(bus: EventBus, metrics: Metrics): void {
  bus.subscribe((events: readonly SecurityEvent[]) => {
    for (const e of events) metrics.eventsTotal.inc({ type: e.type, outcome: e.outcome });
  });
  metrics.sample.queuedEvents = () => bus.stats().queued;
}
