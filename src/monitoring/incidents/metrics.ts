// Prometheus metrics of incidents. MTTA is acknowledged_at − created_at; MTTR is
// recovered_at − created_at (both measured from when the incident was opened).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { type Priority, priorities } from "../detect/types.ts";
import { type IncidentState, incidentStates } from "./states.ts";

/** 30 s to 7 days: a P0 acknowledged in a minute and a P3 recovered next week both land in a bucket. */
export const durationBuckets = [
  30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 28_800, 86_400, 172_800, 345_600, 604_800,
];

export interface IncidentMetrics {
  opened(p: Priority): void;
  acknowledged(p: Priority, seconds: number): void;
  recovered(p: Priority, seconds: number): void;
  /** Replaces the cached counts of open incidents the gauge reports at scrape. */
  setOpen(counts: ReadonlyArray<{ priority: Priority; state: IncidentState; count: number }>): void;
}

/** Registers the incident metrics on `registry`. */
export function createIncidentMetrics(registry: Registry): IncidentMetrics {
  let open = new Map<string, number>();
  new Gauge({
    name: "rampart_incidents_open",
    help: "Incidents not closed, by priority and state.",
    labelNames: ["priority", "state"],
    registers: [registry],
    collect() {
      // Every combination is set, zeros included, so a series drops to 0 instead of going stale.
      for (const priority of priorities)
        for (const state of incidentStates)
          if (state !== "closed") this.set({ priority, state }, open.get(`${priority}/${state}`) ?? 0);
    },
  });
  const openedTotal = new Counter({
    name: "rampart_incidents_opened_total",
    help: "Incidents opened, by priority.",
    labelNames: ["priority"],
    registers: [registry],
  });
  const tta = new Histogram({
    name: "rampart_incident_time_to_acknowledge_seconds",
    help: "Time from opening to acknowledgement (first move out of detected, or an explicit ack).",
    labelNames: ["priority"],
    buckets: durationBuckets,
    registers: [registry],
  });
  const ttr = new Histogram({
    name: "rampart_incident_time_to_recover_seconds",
    help: "Time from opening to recovery (each time the incident reaches recovered).",
    labelNames: ["priority"],
    buckets: durationBuckets,
    registers: [registry],
  });
  return {
    opened: (priority) => openedTotal.inc({ priority }),
    acknowledged: (priority, s) => tta.observe({ priority }, s),
    recovered: (priority, s) => ttr.observe({ priority }, s),
    setOpen(counts) {
      open = new Map(counts.map((c) => [`${c.priority}/${c.state}`, c.count]));
    },
  };
}
