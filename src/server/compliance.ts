// Continuous compliance on the control plane: the catalogue, the checks with the evidence sources
// the runtime holds (TLS probes, audit verification, privacy), tickets from config, the scheduler.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { Registry } from "prom-client";
import type { RampartConfig } from "../config/index.ts";
import { createComplianceMetrics } from "../monitoring/compliance/metrics.ts";
import { loadCatalogue } from "../monitoring/compliance/catalog/index.ts";
import { builtinChecks } from "../monitoring/compliance/checks/index.ts";
import { probeTls } from "../monitoring/compliance/checks/tls-probe.ts";
import { type ComplianceService, createCompliance } from "../monitoring/compliance/service.ts";
import { complianceMigrations } from "../monitoring/compliance/tables.ts";
import { createTracker } from "../monitoring/compliance/tickets/config.ts";
import { createTicketSync, ticketMigrations } from "../monitoring/compliance/tickets/sync.ts";
import type { Clock } from "../platform/clock.ts";
import type { EventBus } from "../platform/events/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Store } from "../platform/store/index.ts";
import type { Privacy } from "./privacy.ts";

/** The config file as written; undefined without a file or while it does not parse (mid-edit). */
function rawConfig(path: string | undefined): unknown {
  if (!path) return undefined;
  try {
    return parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

export const allComplianceMigrations = { ...complianceMigrations, ...ticketMigrations };

interface Verification {
  ok: boolean;
  at: Date;
  problem?: string;
}

export function startCompliance(o: {
  config: () => RampartConfig;
  store: Store;
  clock: Clock;
  bus: EventBus;
  logger: Logger;
  privacy: Privacy;
  /** Re-verifies the audit log (emits audit.verified or audit.verify_failed). */
  verifyAudit: () => Promise<void>;
  /** rampart.yaml, read as written for the plain-text credentials check. */
  configPath?: string;
  registry: Registry;
  leading: () => boolean;
}): ComplianceService {
  const metrics = createComplianceMetrics(o.registry);
  // The latest verification of the audit log, as its events report it.
  let verification: Verification | undefined;
  o.bus.subscribe((events) => {
    for (const e of events) {
      if (e.type !== "audit.verified" && e.type !== "audit.verify_failed") continue;
      const problem = e.data.problem;
      verification = {
        ok: e.type === "audit.verified",
        at: new Date(e.time),
        ...(typeof problem === "string" ? { problem } : {}),
      };
    }
  });
  // The tracker follows config reloads: rebuilt only when compliance.tickets changes.
  let ticketsFor: string | undefined;
  let tickets: ReturnType<typeof createTicketSync> | undefined;
  const currentTickets = () => {
    const t = o.config().compliance.tickets;
    const key = JSON.stringify(t ?? null);
    if (key !== ticketsFor) {
      ticketsFor = key;
      tickets = t
        ? createTicketSync({
            db: o.store.db,
            tracker: createTracker(t),
            config: t,
            clock: o.clock,
            emit: (e) => o.bus.emit(e),
          })
        : undefined;
    }
    return tickets;
  };
  return createCompliance({
    db: o.store.db,
    clock: o.clock,
    config: o.config,
    catalogue: loadCatalogue(),
    checks: builtinChecks,
    context: () => ({
      probeTls,
      auditVerification: () => verification,
      privacy: o.privacy,
      rawConfig: rawConfig(o.configPath),
    }),
    emit: (e) => o.bus.emit(e),
    logger: o.logger,
    tickets: currentTickets,
    afterCycle: (status) => metrics.update(status),
    leading: o.leading,
    // With no verification on record yet, verify the log now rather than fail the check.
    beforeCycle: async () => {
      if (verification !== undefined || o.config().audit.verifyIntervalHours === 0) return;
      await o.verifyAudit();
      await o.bus.flush();
    },
  });
}
