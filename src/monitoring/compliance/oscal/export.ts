// Readiness as an OSCAL assessment-results document, so GRC tools and auditors can import what
// Rampart observed: one result per framework, one observation per check (its items as subjects,
// the control's evidence by hash), and one finding per requirement with satisfied / not-satisfied.
// UUIDs are derived from stable ids, so exporting the same state twice gives identical documents.
import { createHash } from "node:crypto";
import { Invalid } from "../../../platform/errors.ts";
import type {
  CheckSummary,
  ControlReadiness,
  Evidence,
  FrameworkReadiness,
  RequirementReadiness,
  RequirementStatus,
} from "../model.ts";
import { countItems } from "../report/format.ts";
import { oscalVersion } from "./validate.ts";

/** Namespace for Rampart's own property names (OSCAL requires a ns on names it does not define). */
export const RAMPART_NS = "urn:rampart:compliance";

export interface OscalExportOptions {
  title: string;
  generatedAt: Date;
  auditWindow?: { from: Date; to: Date };
  toolVersion: string;
}

/**
 * A name-based UUID: the first 16 bytes of SHA-256 over `name`, with RFC 4122's version 5 and
 * variant bits set (v5 proper uses SHA-1; the schema accepts version 4 or 5 and this keeps to SHA-256).
 */
export function stableUuid(name: string): string {
  const b = createHash("sha256").update(`rampart-oscal\n${name}`).digest().subarray(0, 16);
  b[6] = ((b[6] as number) & 0x0f) | 0x50;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * An OSCAL token for a framework reference: "iso27001" + "A.8.24" → "iso27001-a.8.24", "dpdp" +
 * "s.8(6)" → "dpdp-s.8.6", "Rule 7" → "dpdp-rule_7". Tokens allow letters, digits, '.', '-' and '_'.
 */
export function oscalControlId(frameworkId: string, ref: string): string {
  const part = ref
    .toLowerCase()
    .replace(/\.?\s+/g, "_")
    .replace(/[()[\]]+/g, ".")
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")
    .replace(/[._-]+$/, "");
  const token = `${frameworkId.toLowerCase().replace(/[^\p{L}\p{N}._-]+/gu, "-")}-${part}`;
  return /^[\p{L}_]/u.test(token) ? token : `_${token}`;
}

// OSCAL strings may not be empty or start/end with white space.
const str = (s: string, fallback = "-"): string => s.trim().replace(/\s+/g, " ") || fallback;
const iso = (d: Date): string => d.toISOString();
const prop = (name: string, value: string | number) => ({ name, ns: RAMPART_NS, value: str(String(value)) });

const findingState: Record<RequirementStatus, { state: "satisfied" | "not-satisfied"; reason: string }> = {
  compliant: { state: "satisfied", reason: "pass" },
  partially_compliant: { state: "not-satisfied", reason: "fail" },
  non_compliant: { state: "not-satisfied", reason: "fail" },
  not_assessed: { state: "not-satisfied", reason: "other" },
};

function observation(fw: string, check: CheckSummary, evidence: Evidence[], generatedAt: Date) {
  const k = countItems(check.items);
  const description =
    `${check.title}: ${k.passing} passing, ${k.atRisk} at risk, ${k.failing} failing, ${k.overdue} overdue, ` +
    `${k.excepted} excepted, ${k.notApplicable} not applicable.` +
    (check.error ? ` The last run failed: ${check.error}` : "");
  const subjects = check.items.map((item) => ({
    "subject-uuid": stableUuid(`resource\n${item.resource}`),
    type: "resource",
    title: str(item.resource),
    props: [
      prop("standing", item.standing),
      prop("fingerprint", item.fingerprint),
      ...(item.dueAt ? [prop("due", iso(item.dueAt))] : []),
      ...(item.exceptionId ? [prop("exception-id", item.exceptionId)] : []),
    ],
    remarks: str(item.detail),
  }));
  const relevant = evidence.map((ev) => ({
    description: str(`${ev.title} (${ev.kind}, ${ev.state}); sha256 ${ev.sha256}`),
    props: [
      prop("sha256", ev.sha256),
      prop("evidence-id", ev.id),
      prop("evidence-state", ev.state),
      ...(ev.validUntil ? [prop("valid-until", iso(ev.validUntil))] : []),
    ],
  }));
  return {
    uuid: stableUuid(`observation\n${fw}\n${check.id}`),
    title: str(check.title),
    description: str(description),
    props: [prop("check-id", check.id), prop("check-source", check.source)],
    methods: ["TEST"],
    types: [k.atRisk + k.failing + k.overdue > 0 ? "finding" : "control-objective"],
    ...(subjects.length ? { subjects } : {}),
    ...(relevant.length ? { "relevant-evidence": relevant } : {}),
    collected: iso(check.lastRunAt ?? generatedAt),
  };
}

function finding(fw: string, req: RequirementReadiness, observationsOf: (controlId: string) => string[]) {
  const target = findingState[req.status];
  const controls = req.controls.map((c) => `${c.id} (${c.relationship}, ${c.status})`).join("; ");
  const related = [...new Set(req.controls.flatMap((c) => observationsOf(c.id)))];
  return {
    uuid: stableUuid(`finding\n${fw}\n${req.requirement.ref}`),
    title: str(`${req.requirement.ref} ${req.requirement.title}`),
    description: str(
      `${req.requirement.ref} is ${req.status.replace(/_/g, " ")}. ` +
        (controls ? `Rampart controls: ${controls}.` : "No Rampart control is mapped to it."),
    ),
    props: [prop("requirement-ref", req.requirement.ref), prop("requirement-status", req.status)],
    target: {
      type: "objective-id",
      "target-id": oscalControlId(fw, req.requirement.ref),
      status: {
        state: target.state,
        reason: target.reason,
        ...(req.status === "not_assessed"
          ? { remarks: "No control evidence assessed this requirement." }
          : {}),
      },
    },
    ...(related.length ? { "related-observations": related.map((u) => ({ "observation-uuid": u })) } : {}),
  };
}

function result(r: FrameworkReadiness, o: OscalExportOptions) {
  const fw = r.framework.id;
  // One observation per check per framework; a check shared by several controls is observed once.
  const checks = new Map<string, { check: CheckSummary; controls: ControlReadiness[] }>();
  for (const c of r.controls)
    for (const check of c.checks) {
      const entry = checks.get(check.id) ?? { check, controls: [] };
      entry.controls.push(c);
      checks.set(check.id, entry);
    }
  const observations = [...checks.values()].map(({ check, controls }) => {
    const evidence = new Map<string, Evidence>();
    for (const c of controls) for (const ev of c.evidence) evidence.set(ev.id, ev);
    return observation(fw, check, [...evidence.values()], r.generatedAt);
  });
  const byControl = new Map(
    r.controls.map((c) => [c.control.id, c.checks.map((k) => stableUuid(`observation\n${fw}\n${k.id}`))]),
  );
  const findings = r.requirements.map((req) => finding(fw, req, (id) => byControl.get(id) ?? []));
  const window = r.window ?? o.auditWindow;
  const s = r.summary;
  return {
    uuid: stableUuid(`result\n${fw}\n${iso(r.generatedAt)}`),
    title: str(`${r.framework.name} ${r.framework.version}`),
    description: str(
      `Rampart's continuous assessment of ${r.framework.name} (${r.framework.version}): ${s.compliant} compliant, ` +
        `${s.partiallyCompliant} partially compliant, ${s.nonCompliant} non-compliant and ${s.notAssessed} not assessed ` +
        `of ${s.requirements} requirements. ${r.framework.attribution}`,
    ),
    start: iso(window?.from ?? r.generatedAt),
    end: iso(window?.to ?? r.generatedAt),
    props: [prop("framework-id", fw), prop("readiness-score", s.score.toFixed(4))],
    "reviewed-controls": {
      "control-selections": [
        r.requirements.length
          ? {
              "include-controls": r.requirements.map((q) => ({
                "control-id": oscalControlId(fw, q.requirement.ref),
              })),
            }
          : { "include-all": {} },
      ],
    },
    ...(observations.length ? { observations } : {}),
    ...(findings.length ? { findings } : {}),
  };
}

/** Builds an OSCAL assessment-results document for `reports` (validate it with `validateOscal`). */
export function assessmentResults(reports: FrameworkReadiness[], o: OscalExportOptions): object {
  if (reports.length === 0) throw new Invalid("at least one framework report is needed", "reports");
  const ids = reports.map((r) => r.framework.id).join(",");
  const planUuid = stableUuid("assessment-plan\nrampart");
  return {
    "assessment-results": {
      uuid: stableUuid(`assessment-results\n${ids}\n${iso(o.generatedAt)}`),
      metadata: {
        title: str(o.title),
        "last-modified": iso(o.generatedAt),
        version: str(o.toolVersion),
        "oscal-version": oscalVersion(),
        props: [prop("generator", "rampart")],
      },
      // Rampart has no separate assessment plan document: the plan is its catalogue of checks,
      // described in back-matter and referenced by fragment.
      "import-ap": { href: `#${planUuid}` },
      results: reports.map((r) => result(r, o)),
      "back-matter": {
        resources: [
          {
            uuid: planUuid,
            title: "Rampart continuous compliance checks",
            description:
              "The assessment plan is Rampart's catalogue of controls and automated checks, run continuously against live configuration and state.",
          },
        ],
      },
    },
  };
}
