// Audit log checks: retention long enough for a year of lookback, and a recent, successful
// verification of the whole log (hash chains, MACs, signed checkpoints).
//
// SLA defaults: retention is a config change (1 day, no tolerance). A failed verification means
// the log may have been altered: 1 day, no tolerance, to investigate.
import type { CheckDefinition, CheckItem } from "../model.ts";
import { HOUR_MS } from "./common.ts";

const MIN_RETENTION_DAYS = 365;

const retention: CheckDefinition = {
  id: "audit.retention",
  title: "Security and audit logs are kept for at least a year",
  source: "audit",
  remediation: "Set audit.retention.security and audit.retention.audit to 365 days or more.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const r = ctx.config.audit.retention;
    return (["security", "audit"] as const).map((kind): CheckItem => ({
      resource: `audit:${kind}`,
      status: r[kind] >= MIN_RETENTION_DAYS ? "pass" : "fail",
      detail: `${kind} entries kept ${r[kind]} days (at least ${MIN_RETENTION_DAYS})`,
      observed: { days: r[kind] },
    }));
  },
};

const verification: CheckDefinition = {
  id: "audit.verification",
  title: "The audit log verifies, and is verified regularly",
  source: "audit",
  remediation:
    "Run `rampart audit verify`; if it fails, treat the log as tampered with (open an incident). If none runs, set audit.verifyIntervalHours above 0.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const resource = "audit:verification";
    if (!ctx.auditVerification)
      return [{ resource, status: "not_applicable", detail: "the audit log is not running in this process" }];
    const every = ctx.config.audit.verifyIntervalHours || 24;
    const windowHours = 2 * every;
    const last = ctx.auditVerification();
    if (!last) return [{ resource, status: "fail", detail: "the audit log was never verified" }];
    const observed = { ok: last.ok, at: last.at.toISOString(), windowHours };
    const hours = Math.floor((ctx.now.getTime() - last.at.getTime()) / HOUR_MS);
    if (!last.ok)
      return [
        {
          resource,
          status: "fail",
          detail: `verification failed ${hours} h ago${last.problem ? `: ${last.problem}` : ""}`,
          observed,
          failingSince: last.at,
        },
      ];
    if (ctx.now.getTime() - last.at.getTime() > windowHours * HOUR_MS)
      return [
        {
          resource,
          status: "fail",
          detail: `last verified ${hours} h ago, more than ${windowHours} h`,
          observed,
          failingSince: new Date(last.at.getTime() + windowHours * HOUR_MS),
        },
      ];
    return [{ resource, status: "pass", detail: `verified ${hours} h ago`, observed }];
  },
};

export const auditChecks: CheckDefinition[] = [retention, verification];
