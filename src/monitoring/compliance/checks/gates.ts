// Security gates: the scan evidence CI reports to the control plane (src/appsec/scan/evidence.ts).
// A finding is open while `fixed_at` is null (a later run of the same kind, source and target
// would have closed it), so open items are those of each target's latest run. Suppressed findings
// (ignore files, baselines, inline markers) are accepted risks and are not judged here.
//
// SLA defaults, counted from the finding's first sighting: critical CVEs 7 days (2 of tolerance);
// high/critical Kubernetes and IaC misconfigurations 14 days (3); a secret in code 1 day (0),
// because it must be rotated, not just removed.
import type { ScanTables } from "../../../appsec/scan/evidence.ts";
import type { CheckContext, CheckDefinition, CheckItem } from "../model.ts";
import { notApplicable, tablesOf } from "./common.ts";

type ItemRow = ScanTables["scan_items"];

function detailsOf(row: ItemRow): Record<string, unknown> {
  if (!row.details) return {};
  try {
    const parsed = JSON.parse(row.details) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

async function openItems(ctx: CheckContext, kinds: string[], severities?: string[]): Promise<ItemRow[]> {
  let q = tablesOf<ScanTables>(ctx)
    .selectFrom("scan_items")
    .selectAll()
    .where("kind", "in", kinds)
    .where("fixed_at", "is", null)
    .where("suppressed", "is", null);
  if (severities) q = q.where("severity", "in", severities);
  return q.orderBy("first_seen").orderBy("fingerprint").execute();
}

/** The (source, target) pairs that ever reported a run of `kind`. */
async function targetsOf(ctx: CheckContext, kind: string): Promise<{ source: string; target: string }[]> {
  return tablesOf<ScanTables>(ctx)
    .selectFrom("scan_runs")
    .select(["source", "target"])
    .distinct()
    .where("kind", "=", kind)
    .orderBy("source")
    .orderBy("target")
    .execute();
}

const findingItem = (row: ItemRow): CheckItem => ({
  resource: `finding:${row.fingerprint}`,
  status: "fail",
  detail: `${row.severity} ${row.rule} in ${row.target}: ${row.title}`,
  observed: {
    kind: row.kind,
    source: row.source,
    target: row.target,
    rule: row.rule,
    severity: row.severity,
  },
  failingSince: new Date(row.first_seen),
});

/** One fail item per open finding (earliest sighting kept when sources share one), one pass item per clean target. */
function judgeTargets(
  targets: { source: string; target: string }[],
  findings: ItemRow[],
  clean: string,
): CheckItem[] {
  const items = new Map<string, CheckItem>();
  for (const f of findings)
    if (!items.has(`finding:${f.fingerprint}`)) items.set(`finding:${f.fingerprint}`, findingItem(f));
  const dirty = new Set(findings.map((f) => `${f.source}\n${f.target}`));
  for (const t of targets)
    if (!dirty.has(`${t.source}\n${t.target}`))
      items.set(`target:${t.source}:${t.target}`, {
        resource: `target:${t.source}:${t.target}`,
        status: "pass",
        detail: clean,
        observed: { source: t.source, target: t.target },
      });
  return [...items.values()];
}

const trivyCriticalSla: CheckDefinition = {
  id: "gates.trivy-critical-sla",
  title: "Critical vulnerabilities are fixed within the SLA",
  source: "gates",
  remediation:
    "Upgrade the package to the fixed version Trivy names (rebuild the image on a patched base), or record a justified, expiring exception in .trivyignore.yaml.",
  slaDays: 7,
  toleranceDays: 2,
  async run(ctx) {
    const targets = await targetsOf(ctx, "trivy");
    if (targets.length === 0) return notApplicable("gates:trivy", "no Trivy scan was ever reported");
    const critical = (await openItems(ctx, ["trivy"], ["critical"])).filter((row) => {
      const kind = detailsOf(row)["kind"];
      // Findings from other producers carry no kind: a CVE or GHSA id marks a vulnerability.
      return kind === "vulnerability" || (kind === undefined && /^(CVE|GHSA)-/i.test(row.rule));
    });
    return judgeTargets(targets, critical, "no open critical vulnerability in the latest scan");
  },
};

function postureCheck(kind: "k8s" | "iac", id: string, what: string, remediation: string): CheckDefinition {
  return {
    id,
    title: `${what} have no open high or critical findings`,
    source: "gates",
    remediation,
    slaDays: 14,
    toleranceDays: 3,
    async run(ctx) {
      const targets = await targetsOf(ctx, kind);
      if (targets.length === 0) return notApplicable(`gates:${kind}`, `no ${kind} scan was ever reported`);
      const findings = await openItems(ctx, [kind], ["high", "critical"]);
      return judgeTargets(targets, findings, "no open high or critical finding in the latest scan");
    },
  };
}

const k8sPosture = postureCheck(
  "k8s",
  "gates.k8s-posture",
  "Kubernetes manifests",
  "Fix the manifest as the finding says (run as non-root, drop privileges, set limits), or suppress it with a reasoned, expiring inline annotation.",
);
const iacPosture = postureCheck(
  "iac",
  "gates.iac-posture",
  "Infrastructure as code",
  "Fix the resource as the finding says (encryption, public access, logging), or suppress it with a reasoned, expiring inline comment.",
);

const secretsInCode: CheckDefinition = {
  id: "gates.secrets-in-code",
  title: "No credentials in code or images",
  source: "gates",
  remediation:
    "Rotate the credential first (it is exposed in history), then remove it from the code and the image and read it from the secrets store.",
  slaDays: 1,
  toleranceDays: 0,
  async run(ctx) {
    const targets = await targetsOf(ctx, "secrets");
    const findings = (await openItems(ctx, ["secrets", "trivy"])).filter(
      (row) => row.kind === "secrets" || detailsOf(row)["kind"] === "secret",
    );
    if (targets.length === 0 && findings.length === 0)
      return notApplicable("gates:secrets", "no secret scan was ever reported");
    return judgeTargets(targets, findings, "no open secret finding in the latest scan");
  },
};

export const gateChecks: CheckDefinition[] = [trivyCriticalSla, k8sPosture, iacPosture, secretsInCode];
