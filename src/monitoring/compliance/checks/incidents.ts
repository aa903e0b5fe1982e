// incidents.mttr: mean time to resolve (opening to recovery, as the incident report and metrics
// measure it) per severity over the last 30 days, against targets; and open incidents already
// older than their severity's target. Severities map to priorities: critical P0, high P1,
// medium P2, low P3.
//
// SLA default: 7 days, 2 of tolerance: a slow mean is fixed by process, not by one change.
import type { IncidentTables } from "../../incidents/schema.ts";
import type { CheckDefinition, CheckItem } from "../model.ts";
import { complianceOf, DAY_MS, HOUR_MS, type Severity, severities, tablesOf } from "./common.ts";

const PRIORITY: Record<Severity, string> = { critical: "P0", high: "P1", medium: "P2", low: "P3" };
const DEFAULT_HOURS: Record<Severity, number> = { critical: 24, high: 72, medium: 168, low: 720 };
const WINDOW_MS = 30 * DAY_MS;
// Recovered (or closed after recovery): no longer counts as open.
const RESOLVED = ["recovered", "closed"];

const hours = (ms: number) => Math.round((ms / HOUR_MS) * 10) / 10;

export const mttr: CheckDefinition = {
  id: "incidents.mttr",
  title: "Incidents are resolved within their target time",
  source: "incidents",
  remediation:
    "Work open incidents past their target to recovery (assign a commander, run the playbook); if the mean keeps missing, review staffing and playbooks for that severity.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const targets = { ...DEFAULT_HOURS, ...complianceOf(ctx).mttrHours };
    const since = new Date(ctx.now.getTime() - WINDOW_MS);
    const db = tablesOf<IncidentTables>(ctx);
    const resolved = await db
      .selectFrom("incidents")
      .select(["id", "priority", "created_at", "recovered_at"])
      .where("state", "in", RESOLVED)
      .where("recovered_at", ">=", since)
      .execute();
    const open = await db
      .selectFrom("incidents")
      .select(["id", "priority", "state", "created_at"])
      .where("state", "not in", RESOLVED)
      .orderBy("created_at")
      .execute();
    const items: CheckItem[] = [];
    for (const severity of severities) {
      const target = targets[severity];
      const durations = resolved
        .filter((r) => r.priority === PRIORITY[severity] && r.recovered_at)
        .map((r) => new Date(r.recovered_at as Date).getTime() - new Date(r.created_at).getTime());
      if (durations.length === 0) continue;
      const mean = durations.reduce((a, b) => a + b, 0) / durations.length;
      const observed = {
        priority: PRIORITY[severity],
        resolved: durations.length,
        meanHours: hours(mean),
        targetHours: target,
      };
      const text = `mean ${hours(mean)} h over ${durations.length} resolved in 30 days (target ${target} h)`;
      items.push({
        resource: `mttr:${severity}`,
        status: mean <= target * HOUR_MS ? "pass" : "fail",
        detail: text,
        observed,
      });
    }
    for (const i of open) {
      const severity = severities.find((s) => PRIORITY[s] === i.priority);
      if (!severity) continue;
      const target = targets[severity];
      const created = new Date(i.created_at);
      const due = new Date(created.getTime() + target * HOUR_MS);
      const age = hours(ctx.now.getTime() - created.getTime());
      const observed = { priority: i.priority, state: i.state, ageHours: age, targetHours: target };
      items.push(
        due.getTime() < ctx.now.getTime()
          ? {
              resource: `incident:${i.id}`,
              status: "fail",
              detail: `${severity} (${i.priority}) ${i.state} for ${age} h, past the ${target} h target`,
              observed,
              failingSince: due,
            }
          : {
              resource: `incident:${i.id}`,
              status: "pass",
              detail: `${severity} (${i.priority}) ${i.state} for ${age} h of ${target}`,
              observed,
            },
      );
    }
    if (items.length === 0)
      return [
        {
          resource: "incidents:mttr",
          status: "not_applicable",
          detail: "no incident resolved in 30 days and none open",
        },
      ];
    return items;
  },
};

export const incidentChecks: CheckDefinition[] = [mttr];
