// How results roll up, as pure functions: an item's standing from its SLA and exceptions, a
// control's status from its checks and evidence, a requirement's from the controls mapped to it
// (Drata's readiness, Secureframe's "at risk", CISO Assistant's result set).
import { createHash } from "node:crypto";
import type {
  Catalogue,
  CheckSummary,
  Control,
  ControlReadiness,
  ControlStatus,
  Evidence,
  Exception,
  FrameworkReadiness,
  ItemStanding,
  ItemStatus,
  RequirementReadiness,
  RequirementStatus,
} from "./model.ts";

const DAY_MS = 86_400_000;

export const fingerprintOf = (checkId: string, resource: string): string =>
  createHash("sha256").update(`${checkId}\n${resource}`).digest("hex");

/** The exception that covers an item now: approved, unexpired, for its resource or every one ("*"). */
export function coveringException(
  exceptions: readonly Exception[],
  checkId: string,
  resource: string,
  now: Date,
): Exception | undefined {
  return exceptions.find(
    (e) =>
      e.state === "approved" &&
      e.checkId === checkId &&
      (e.resource === resource || e.resource === "*") &&
      e.expiresAt.getTime() > now.getTime(),
  );
}

/**
 * A failing item is at risk while inside its tolerance, failing until its SLA deadline, overdue
 * after. `since` is when it began failing.
 */
export function standingOf(
  o: { status: ItemStatus; since?: Date; slaDays: number; toleranceDays: number; excepted: boolean },
  now: Date,
): { standing: ItemStanding; dueAt?: Date } {
  if (o.status === "not_applicable") return { standing: "not_applicable" };
  if (o.status === "pass") return { standing: "passing" };
  const since = (o.since ?? now).getTime();
  const dueAt = new Date(since + o.slaDays * DAY_MS);
  if (o.excepted) return { standing: "excepted", dueAt };
  const elapsed = now.getTime() - since;
  if (elapsed > o.slaDays * DAY_MS) return { standing: "overdue", dueAt };
  if (elapsed < Math.min(o.toleranceDays, o.slaDays) * DAY_MS) return { standing: "at_risk", dueAt };
  return { standing: "failing", dueAt };
}

/** Manual evidence counts while approved and not past its validity. */
export const evidenceValid = (e: Evidence, now: Date): boolean =>
  e.state === "approved" && (e.validUntil === undefined || e.validUntil.getTime() > now.getTime());

/**
 * A control passes when every applicable item of its checks passes or is excepted, and a control
 * without checks passes on valid approved evidence. A check that errored or never ran leaves the
 * control needing evidence: absence of proof is not a pass.
 */
export function controlStatus(
  control: Control,
  checks: readonly CheckSummary[],
  evidence: readonly Evidence[],
  now: Date,
): ControlStatus {
  const manual = evidence.filter((e) => e.kind !== "snapshot").some((e) => evidenceValid(e, now));
  if (control.checks.length === 0) return manual ? "passing" : "needs_evidence";
  if (checks.some((c) => c.error !== undefined || c.lastRunAt === undefined)) return "needs_evidence";
  const items = checks.flatMap((c) => c.items).filter((i) => i.standing !== "not_applicable");
  if (items.length === 0) return manual ? "passing" : "not_applicable";
  if (items.some((i) => i.standing === "failing" || i.standing === "overdue")) return "failing";
  if (items.some((i) => i.standing === "at_risk")) return "at_risk";
  return "passing";
}

/**
 * Compliant when every assessed control mapped to the requirement holds and one of them covers it
 * whole (equal or superset); partially compliant when they hold but only cover part of it, or some
 * still need evidence; non-compliant when any fails.
 */
export function requirementStatus(controls: RequirementReadiness["controls"]): RequirementStatus {
  const assessed = controls.filter((c) => c.status !== "not_applicable");
  if (assessed.length === 0) return "not_assessed";
  if (assessed.some((c) => c.status === "failing")) return "non_compliant";
  const holding = assessed.filter((c) => c.status === "passing" || c.status === "at_risk");
  if (holding.length === 0) return "not_assessed";
  if (holding.length < assessed.length) return "partially_compliant";
  return holding.some((c) => c.relationship === "equal" || c.relationship === "superset")
    ? "compliant"
    : "partially_compliant";
}

/** A framework's readiness from the catalogue, the current check summaries and the evidence. */
export function readinessOf(
  catalogue: Catalogue,
  frameworkId: string,
  checks: ReadonlyMap<string, CheckSummary>,
  evidence: readonly Evidence[],
  now: Date,
  window?: { from: Date; to: Date },
): FrameworkReadiness {
  const framework = catalogue.frameworks.find((f) => f.id === frameworkId);
  if (!framework) throw new Error(`no framework '${frameworkId}' in the catalogue`);
  const mapped = catalogue.controls.filter((c) => c.mappings.some((m) => m.frameworkId === frameworkId));
  const controls: ControlReadiness[] = mapped.map((control) => {
    const summaries = control.checks.map(
      (id) => checks.get(id) ?? { id, title: id, source: "gateway" as const, remediation: "", items: [] },
    );
    const own = evidence.filter((e) => e.controls.includes(control.id));
    return { control, status: controlStatus(control, summaries, own, now), checks: summaries, evidence: own };
  });
  const statusOf = new Map(controls.map((c) => [c.control.id, c.status]));
  const requirements: RequirementReadiness[] = catalogue.requirements
    .filter((r) => r.frameworkId === frameworkId)
    .map((requirement) => {
      const linked = mapped.flatMap((c) =>
        c.mappings
          .filter((m) => m.frameworkId === frameworkId && m.ref === requirement.ref)
          .map((m) => ({
            id: c.id,
            relationship: m.relationship,
            status: statusOf.get(c.id) as ControlStatus,
          })),
      );
      return { requirement, status: requirementStatus(linked), controls: linked };
    });
  const count = (s: RequirementStatus) => requirements.filter((r) => r.status === s).length;
  const compliant = count("compliant");
  const partiallyCompliant = count("partially_compliant");
  const nonCompliant = count("non_compliant");
  const assessed = compliant + partiallyCompliant + nonCompliant;
  return {
    framework,
    generatedAt: now,
    ...(window ? { window } : {}),
    summary: {
      requirements: requirements.length,
      compliant,
      partiallyCompliant,
      nonCompliant,
      notAssessed: count("not_assessed"),
      score: assessed === 0 ? 0 : (compliant + partiallyCompliant / 2) / assessed,
    },
    requirements,
    controls,
  };
}
