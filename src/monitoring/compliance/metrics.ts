// Prometheus metrics of continuous compliance, set after each cycle from its status: items per
// check and standing, readiness per framework, and when the checks last ran. Labels are check ids,
// standings and framework ids, all fixed by the code and the catalogue; never a resource.
import { Gauge, type Registry } from "prom-client";
import type { ComplianceStatus } from "./service.ts";

export interface ComplianceMetrics {
  /** Sets every gauge from a status read after a cycle. */
  update(status: ComplianceStatus): void;
}

export function createComplianceMetrics(registry: Registry): ComplianceMetrics {
  const items = new Gauge({
    name: "rampart_compliance_items",
    help: "Items of each compliance check by standing (passing, at_risk, failing, overdue, excepted, not_applicable) at the last cycle.",
    labelNames: ["check", "standing"],
    registers: [registry],
  });
  const errors = new Gauge({
    name: "rampart_compliance_check_errors",
    help: "1 when a compliance check could not read its evidence at its last run, else 0.",
    labelNames: ["check"],
    registers: [registry],
  });
  const readiness = new Gauge({
    name: "rampart_compliance_readiness_ratio",
    help: "Share of a framework's assessed requirements that are compliant (partially compliant counts half).",
    labelNames: ["framework"],
    registers: [registry],
  });
  const lastCycle = new Gauge({
    name: "rampart_compliance_last_cycle_timestamp_seconds",
    help: "When the compliance checks last ran (Unix time).",
    registers: [registry],
  });
  return {
    update(status) {
      for (const c of status.checks) {
        for (const [standing, n] of Object.entries(c.counts)) items.set({ check: c.id, standing }, n);
        errors.set({ check: c.id }, c.error ? 1 : 0);
      }
      for (const f of status.frameworks) readiness.set({ framework: f.id }, f.summary.score);
      if (status.lastCycleAt) lastCycle.set(new Date(status.lastCycleAt).getTime() / 1000);
    },
  };
}
