// Reads a Trivy report, JSON (SchemaVersion 2) or SARIF 2.1.0, into Rampart findings. Trivy's fields
// come and go across versions (ReportID, Fingerprint, Status, AVDID…), so only what identifies a
// finding is required; everything else is read when it is there. Secrets never keep their match or
// code lines: only the rule, title and line reach a finding.
import { createHash } from "node:crypto";
import { z } from "zod";
import { Invalid } from "../../../platform/errors.ts";
import type { Finding, ScanSeverity } from "../types.ts";

export type TrivyFindingKind = "vulnerability" | "misconfiguration" | "secret" | "license";

/** A Trivy report as Rampart findings, with what the report says about the scanned artifact. */
export interface TrivyReport {
  format: "json" | "sarif";
  /** Image, repository or path Trivy scanned (`ArtifactName`; SARIF: `imageName` for images). */
  artifactName?: string;
  artifactType?: string;
  trivyVersion?: string;
  findings: Finding[];
  stats: {
    results: number;
    vulnerabilities: number;
    misconfigurations: number;
    secrets: number;
    licenses: number;
  };
}

const TRIVY_SEVERITY: Readonly<Record<string, ScanSeverity>> = {
  CRITICAL: "critical",
  HIGH: "high",
  MEDIUM: "medium",
  LOW: "low",
};

/** CVSS v3 qualitative bands (FIRST CVSS v3.1 specification, section 5). */
export function cvssSeverity(score: number): ScanSeverity {
  if (score >= 9) return "critical";
  if (score >= 7) return "high";
  if (score >= 4) return "medium";
  if (score > 0) return "low";
  return "info";
}

/**
 * Trivy's severity on Rampart's scale. UNKNOWN (no vendor rated it) takes the band of its CVSS
 * score when there is one, else `low`: it is still a known vulnerability, so not mere `info`,
 * and `--fail-on low` catches it.
 */
export function trivySeverity(severity: string | null | undefined, cvss?: number | null): ScanSeverity {
  const mapped = TRIVY_SEVERITY[(severity ?? "").toUpperCase()];
  if (mapped) return mapped;
  return typeof cvss === "number" && cvss > 0 ? cvssSeverity(cvss) : "low";
}

/**
 * The misconfiguration id Trivy uses today: `KSV-0001`. Older reports say `KSV001` with AVDID
 * `AVD-KSV-0001`; both give `KSV-0001`, so ignores and first-seen state survive a Trivy upgrade.
 */
export function misconfigRule(id: string, avdId?: string | null): string {
  const avd = /^AVD-([A-Z0-9]+-\d+)$/i.exec(avdId ?? "");
  if (avd) return (avd[1] as string).toUpperCase();
  const prefixed = /^AVD-([A-Z0-9]+-\d+)$/i.exec(id);
  if (prefixed) return (prefixed[1] as string).toUpperCase();
  const old = /^([A-Z]+)(\d+)$/i.exec(id);
  if (old) return `${(old[1] as string).toUpperCase()}-${(old[2] as string).padStart(4, "0")}`;
  return id;
}

/**
 * An image without its tag or digest: first-seen state must survive a new tag of the same image,
 * or every release would restart the SLA clock.
 */
export function imageRepository(name: string): string {
  const noDigest = name.replace(/@sha256:[0-9a-f]+$/i, "");
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

const slashes = (p: string): string => p.replaceAll("\\", "/");

function sha16(parts: readonly string[]): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

/** What identifies a finding before fingerprinting; equal identities in one report are told apart by order. */
interface Draft {
  finding: Omit<Finding, "fingerprint">;
  identity: string[];
}

function fingerprinted(drafts: Draft[]): Finding[] {
  const seen = new Map<string, number>();
  return drafts.map(({ finding, identity }) => {
    const key = JSON.stringify(identity);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    // A title is one line for people; Trivy messages can run long.
    const title = finding.title.replace(/\s+/g, " ").trim().slice(0, 500) || finding.rule;
    return { ...finding, title, fingerprint: sha16(n === 1 ? identity : [...identity, `#${n}`]) } as Finding;
  });
}

/** The artifact part of a fingerprint: the image repository for images, nothing for paths (CI checkouts move). */
function artifactIdentity(name: string | undefined, isImage: boolean): string {
  return isImage && name ? imageRepository(name) : "";
}

function resourceOf(target: string, artifactName: string | undefined, isImage: boolean): string {
  if (!isImage || !artifactName || target.includes(artifactName)) return target;
  return `${artifactName} (${target})`;
}

const upgradeFix = (pkg: string, fixed: string | null): string | undefined =>
  fixed ? `upgrade ${pkg} to ${fixed}` : undefined;

// ---------------------------------------------------------------------------------------------
// JSON (SchemaVersion 2)

const optStr = z.string().nullish();
const optNum = z.number().nullish();
const optArr = <T extends z.ZodType>(item: T) => z.array(item).nullish();

const cvssEntry = z.looseObject({ V3Score: optNum, V2Score: optNum, V3Vector: optStr, V2Vector: optStr });

const vulnerabilitySchema = z.looseObject({
  VulnerabilityID: z.string().min(1),
  PkgName: optStr,
  PkgPath: optStr,
  InstalledVersion: optStr,
  FixedVersion: optStr,
  Status: optStr,
  Severity: optStr,
  SeveritySource: optStr,
  PrimaryURL: optStr,
  Title: optStr,
  CweIDs: optArr(z.string()),
  CVSS: z.record(z.string(), cvssEntry).nullish(),
});

const misconfigurationSchema = z.looseObject({
  ID: z.string().min(1),
  AVDID: optStr,
  Type: optStr,
  Title: optStr,
  Message: optStr,
  Resolution: optStr,
  Severity: optStr,
  PrimaryURL: optStr,
  Status: optStr,
  CauseMetadata: z.looseObject({ Resource: optStr, StartLine: optNum, EndLine: optNum }).nullish(),
});

// Match and Code are deliberately absent: they are never read, so they cannot leak.
const secretSchema = z.looseObject({
  RuleID: z.string().min(1),
  Category: optStr,
  Severity: optStr,
  Title: optStr,
  StartLine: optNum,
  EndLine: optNum,
});

const licenseSchema = z.looseObject({
  Name: z.string().min(1),
  PkgName: optStr,
  FilePath: optStr,
  Category: optStr,
  Severity: optStr,
  Link: optStr,
});

const packageSchema = z.looseObject({
  Name: optStr,
  Version: optStr,
  Locations: optArr(z.looseObject({ StartLine: optNum })),
});

const resultSchema = z.looseObject({
  Target: z.string(),
  Class: optStr,
  Type: optStr,
  Packages: optArr(packageSchema),
  Vulnerabilities: optArr(vulnerabilitySchema),
  Misconfigurations: optArr(misconfigurationSchema),
  Secrets: optArr(secretSchema),
  Licenses: optArr(licenseSchema),
});

const jsonReportSchema = z.looseObject({
  SchemaVersion: z.literal(2),
  ArtifactName: optStr,
  ArtifactType: optStr,
  Trivy: z.looseObject({ Version: optStr }).nullish(),
  Metadata: z.looseObject({ OS: z.looseObject({ Family: optStr, Name: optStr }).nullish() }).nullish(),
  Results: z.array(resultSchema),
});

function pathText(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

function schemaError(file: string, error: z.ZodError): Invalid {
  const issue = error.issues[0];
  if (!issue) return new Invalid("not a Trivy report", file);
  const where = pathText(issue.path);
  return new Invalid(`${where || "report"}: ${issue.message}`, file);
}

function cvssScore(v: z.output<typeof vulnerabilitySchema>): number | null {
  const cvss = v.CVSS ?? {};
  const preferred = (v.SeveritySource ? cvss[v.SeveritySource] : undefined) ?? cvss["nvd"];
  const score = preferred?.V3Score ?? preferred?.V2Score;
  return typeof score === "number" ? score : null;
}

function fromJson(doc: Record<string, unknown>, file: string): TrivyReport {
  if (!("SchemaVersion" in doc))
    throw new Invalid(
      "missing SchemaVersion: expected a Trivy JSON report (`trivy … --format json`, SchemaVersion 2) or SARIF 2.1.0",
      file,
    );
  if (doc["SchemaVersion"] !== 2)
    throw new Invalid(
      `SchemaVersion ${JSON.stringify(doc["SchemaVersion"])} is not supported: expected 2 (Trivy 0.20 and later)`,
      file,
    );
  if (!("Results" in doc) || doc["Results"] === null)
    throw new Invalid(
      "missing Results: the report lists no scanned targets (Trivy leaves Results out when it found nothing to scan; check the scan's target)",
      file,
    );
  const parsed = jsonReportSchema.safeParse(doc);
  if (!parsed.success) throw schemaError(file, parsed.error);
  const report = parsed.data;
  const artifactName = report.ArtifactName ?? undefined;
  const isImage = report.ArtifactType === "container_image";
  const artifact = artifactIdentity(artifactName, isImage);
  const os = report.Metadata?.OS;
  const osName = os?.Family ? [os.Family, os.Name].filter(Boolean).join(" ") : undefined;
  // GitLab's container-scanning report names the image and operating system of each finding.
  const imageDetails = {
    ...(isImage && artifactName ? { image: artifactName } : {}),
    ...(osName ? { os: osName } : {}),
  };
  const drafts: Draft[] = [];
  const stats = {
    results: report.Results.length,
    vulnerabilities: 0,
    misconfigurations: 0,
    secrets: 0,
    licenses: 0,
  };

  for (const r of report.Results) {
    const cls = r.Class ?? "";
    const isOs = cls === "os-pkgs";
    const resource = resourceOf(r.Target, artifactName, isImage);
    const file = !isImage && !isOs ? slashes(r.Target) : undefined;

    for (const v of r.Vulnerabilities ?? []) {
      stats.vulnerabilities++;
      const pkg = v.PkgName ?? "";
      const installed = v.InstalledVersion ?? "";
      const fixed = v.FixedVersion ? v.FixedVersion : null;
      const cvss = cvssScore(v);
      const line = isOs
        ? undefined
        : r.Packages?.find((p) => p.Name === pkg && p.Version === installed)?.Locations?.[0]?.StartLine;
      const pkgPath = v.PkgPath ? slashes(v.PkgPath) : undefined;
      drafts.push({
        identity: [
          "vulnerability",
          artifact,
          isOs ? "os" : (pkgPath ?? slashes(r.Target)),
          pkg,
          v.VulnerabilityID,
        ],
        finding: {
          rule: v.VulnerabilityID,
          severity: trivySeverity(v.Severity, cvss),
          title: v.Title || `${v.VulnerabilityID} in ${pkg}`,
          ...(fixed ? { fix: upgradeFix(pkg, fixed) as string } : {}),
          location: {
            ...(file ? { file } : {}),
            ...(file && typeof line === "number" && line > 0 ? { line } : {}),
            resource,
            path: installed ? `${pkg}@${installed}` : pkg,
          },
          ...(v.CweIDs && v.CweIDs.length > 0 ? { references: [...v.CweIDs] } : {}),
          details: {
            kind: "vulnerability",
            class: cls,
            target: r.Target,
            type: r.Type ?? null,
            package: pkg,
            installed,
            fixed,
            status: v.Status ?? (fixed ? "fixed" : null),
            cvss,
            primaryUrl: v.PrimaryURL ?? null,
            trivySeverity: (v.Severity ?? "UNKNOWN").toUpperCase(),
            ...(pkgPath ? { pkgPath } : {}),
            ...imageDetails,
          },
        },
      });
    }

    for (const m of r.Misconfigurations ?? []) {
      // PASS (and EXCEPTION: an exception Trivy already applied) are not findings.
      if ((m.Status ?? "FAIL").toUpperCase() !== "FAIL") continue;
      stats.misconfigurations++;
      const rule = misconfigRule(m.ID, m.AVDID);
      const start = m.CauseMetadata?.StartLine;
      drafts.push({
        identity: ["misconfiguration", artifact, slashes(r.Target), rule, m.Message ?? ""],
        finding: {
          rule,
          severity: trivySeverity(m.Severity),
          title: m.Message || m.Title || rule,
          ...(m.Resolution ? { fix: m.Resolution } : {}),
          location: {
            ...(file ? { file } : {}),
            ...(file && typeof start === "number" && start > 0 ? { line: start } : {}),
            resource,
            ...(m.CauseMetadata?.Resource ? { path: m.CauseMetadata.Resource } : {}),
          },
          details: {
            kind: "misconfiguration",
            class: cls || "config",
            target: r.Target,
            type: r.Type ?? m.Type ?? null,
            check: m.Title ?? null,
            trivyId: m.ID,
            avdId: m.AVDID ?? null,
            primaryUrl: m.PrimaryURL ?? null,
            trivySeverity: (m.Severity ?? "UNKNOWN").toUpperCase(),
          },
        },
      });
    }

    for (const s of r.Secrets ?? []) {
      stats.secrets++;
      const start = s.StartLine;
      drafts.push({
        identity: ["secret", artifact, slashes(r.Target), s.RuleID],
        finding: {
          rule: s.RuleID,
          severity: trivySeverity(s.Severity),
          title: `${s.Title || s.RuleID} (value redacted)`,
          fix: "remove the secret from the source and the image, then rotate it",
          location: {
            ...(file ? { file } : {}),
            ...(typeof start === "number" && start > 0 ? { line: start } : {}),
            resource,
          },
          details: {
            kind: "secret",
            class: cls || "secret",
            target: r.Target,
            category: s.Category ?? null,
            trivySeverity: (s.Severity ?? "UNKNOWN").toUpperCase(),
          },
        },
      });
    }

    for (const l of r.Licenses ?? []) {
      stats.licenses++;
      const pkg = l.PkgName ?? "";
      drafts.push({
        identity: ["license", artifact, slashes(l.FilePath || r.Target), pkg, l.Name],
        finding: {
          rule: l.Name,
          severity: trivySeverity(l.Severity),
          title: pkg ? `${pkg} is under ${l.Name}` : `${l.FilePath ?? r.Target} is under ${l.Name}`,
          location: { ...(file ? { file } : {}), resource, ...(pkg ? { path: pkg } : {}) },
          details: {
            kind: "license",
            class: cls || "license",
            target: r.Target,
            package: pkg || null,
            category: l.Category ?? null,
            primaryUrl: l.Link || null,
            trivySeverity: (l.Severity ?? "UNKNOWN").toUpperCase(),
          },
        },
      });
    }
  }
  return {
    format: "json",
    ...(artifactName ? { artifactName } : {}),
    ...(report.ArtifactType ? { artifactType: report.ArtifactType } : {}),
    ...(report.Trivy?.Version ? { trivyVersion: report.Trivy.Version } : {}),
    findings: fingerprinted(drafts),
    stats,
  };
}

// ---------------------------------------------------------------------------------------------
// SARIF 2.1.0 as Trivy writes it (pkg/report/sarif.go): facts sit in the message text, one per line.

const sarifMessage = z.looseObject({ text: optStr }).nullish();
const sarifRule = z.looseObject({
  id: z.string(),
  name: optStr,
  shortDescription: sarifMessage,
  helpUri: optStr,
  properties: z
    .looseObject({
      tags: optArr(z.string()),
      "security-severity": z.union([z.string(), z.number()]).nullish(),
      cvssv3_baseScore: optNum,
    })
    .nullish(),
});
const sarifResult = z.looseObject({
  ruleId: optStr,
  ruleIndex: optNum,
  level: optStr,
  message: sarifMessage,
  locations: optArr(
    z.looseObject({
      physicalLocation: z
        .looseObject({
          artifactLocation: z.looseObject({ uri: optStr }).nullish(),
          region: z
            .looseObject({ startLine: optNum, endLine: optNum, startColumn: optNum, endColumn: optNum })
            .nullish(),
        })
        .nullish(),
    }),
  ),
});
const sarifLog = z.looseObject({
  version: z.literal("2.1.0"),
  runs: z.array(
    z.looseObject({
      tool: z.looseObject({
        driver: z.looseObject({ name: z.string(), version: optStr, rules: optArr(sarifRule) }),
      }),
      results: optArr(sarifResult),
      properties: z.looseObject({ imageName: optStr }).nullish(),
    }),
  ),
});

const KIND_BY_RULE_NAME: Readonly<Record<string, [TrivyFindingKind, string]>> = {
  OsPackageVulnerability: ["vulnerability", "os-pkgs"],
  LanguageSpecificPackageVulnerability: ["vulnerability", "lang-pkgs"],
  Misconfiguration: ["misconfiguration", "config"],
  Secret: ["secret", "secret"],
  License: ["license", "license"],
};

const CLASS_BY_KIND: Readonly<Record<TrivyFindingKind, string>> = {
  vulnerability: "",
  misconfiguration: "config",
  secret: "secret",
  license: "license",
};

/** `Key: value` lines of a Trivy SARIF message; `Match:` (a secret's text) is never kept. */
function messageFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const colon = line.indexOf(": ");
    if (colon > 0) {
      const key = line.slice(0, colon);
      if (key !== "Match") fields.set(key, line.slice(colon + 2).trim());
      continue;
    }
    // `Vulnerability CVE-…`, `Secret AWS Access Key ID`, `License GPL-3.0`: a word then the value.
    const space = line.indexOf(" ");
    if (space > 0 && !fields.has(line.slice(0, space)))
      fields.set(line.slice(0, space), line.slice(space + 1));
  }
  return fields;
}

function sarifSeverity(
  fields: Map<string, string>,
  rule: z.output<typeof sarifRule> | undefined,
  level: string | null | undefined,
  bracketed: string | undefined,
): { severity: ScanSeverity; trivy: string } {
  const named =
    fields.get("Severity") ??
    bracketed ??
    rule?.properties?.tags?.find((t) => t.toUpperCase() in TRIVY_SEVERITY || t.toUpperCase() === "UNKNOWN");
  const cvss = rule?.properties?.cvssv3_baseScore ?? null;
  if (named) return { severity: trivySeverity(named, cvss), trivy: named.toUpperCase() };
  const score = Number(rule?.properties?.["security-severity"]);
  if (Number.isFinite(score) && score > 0) return { severity: cvssSeverity(score), trivy: "UNKNOWN" };
  const byLevel: Record<string, ScanSeverity> = { error: "high", warning: "medium", note: "low" };
  return { severity: byLevel[level ?? ""] ?? "low", trivy: "UNKNOWN" };
}

function fromSarif(doc: Record<string, unknown>, file: string): TrivyReport {
  const parsed = sarifLog.safeParse(doc);
  if (!parsed.success) throw schemaError(file, parsed.error);
  const run = parsed.data.runs[0];
  if (!run) throw new Invalid("runs: the SARIF log has no run", file);
  if (parsed.data.runs.length > 1)
    throw new Invalid(`runs: expected one run from Trivy, found ${parsed.data.runs.length}`, file);
  const driver = run.tool.driver;
  if (driver.name.toLowerCase() !== "trivy")
    throw new Invalid(`runs[0].tool.driver.name: this SARIF comes from '${driver.name}', not Trivy`, file);
  const rules = driver.rules ?? [];
  const ruleById = new Map(rules.map((r) => [r.id, r]));
  const artifactName = run.properties?.imageName ?? undefined;
  const isImage = artifactName !== undefined;
  const artifact = artifactIdentity(artifactName, isImage);
  const drafts: Draft[] = [];
  const stats = { results: 0, vulnerabilities: 0, misconfigurations: 0, secrets: 0, licenses: 0 };
  const targets = new Set<string>();

  (run.results ?? []).forEach((res, i) => {
    const rule =
      (typeof res.ruleIndex === "number" && rules[res.ruleIndex]?.id === res.ruleId
        ? rules[res.ruleIndex]
        : undefined) ?? (res.ruleId ? ruleById.get(res.ruleId) : undefined);
    const rawId = res.ruleId ?? rule?.id;
    if (!rawId) throw new Invalid(`runs[0].results[${i}].ruleId: missing`, file);
    // Trivy's old SARIF template named rules `[HIGH] CVE-…`.
    const bracket = /^\[([A-Z]+)\]\s+(.+)$/.exec(rawId);
    const id = bracket ? (bracket[2] as string) : rawId;
    const fields = messageFields(res.message?.text ?? "");
    const tags = (rule?.properties?.tags ?? []).map((t) => t.toLowerCase());
    const tagged = (["vulnerability", "misconfiguration", "secret", "license"] as const).find((k) =>
      tags.includes(k),
    );
    const byName = KIND_BY_RULE_NAME[rule?.name ?? ""];
    const kind: TrivyFindingKind =
      tagged ?? byName?.[0] ?? (fields.has("Package") ? "vulnerability" : "misconfiguration");
    const cls = byName && byName[0] === kind ? byName[1] : CLASS_BY_KIND[kind];
    const { severity, trivy } = sarifSeverity(fields, rule, res.level, bracket?.[1]);
    const phys = res.locations?.[0]?.physicalLocation;
    const target = slashes(phys?.artifactLocation?.uri ?? fields.get("Artifact") ?? "");
    targets.add(target);
    const region = phys?.region;
    // Trivy writes line 1, column 1..1 when it has no location.
    const defaulted =
      region?.startLine === 1 &&
      (region.endLine ?? 1) === 1 &&
      region.startColumn === 1 &&
      region.endColumn === 1;
    const line = region?.startLine && !defaulted ? region.startLine : undefined;
    const isOs = cls === "os-pkgs";
    const fileLoc = !isImage && !isOs && target ? target : undefined;
    const resource = resourceOf(target, artifactName, isImage);
    const primaryUrl = rule?.helpUri ?? null;

    if (kind === "vulnerability") {
      stats.vulnerabilities++;
      const pkg = fields.get("Package") ?? "";
      const installed = fields.get("Installed Version") ?? "";
      const fixed = fields.get("Fixed Version") || null;
      const cvss = rule?.properties?.cvssv3_baseScore ?? null;
      const title = rule?.shortDescription?.text;
      drafts.push({
        identity: ["vulnerability", artifact, isOs ? "os" : target, pkg, id],
        finding: {
          rule: id,
          severity,
          title: title || `${id} in ${pkg}`,
          ...(fixed ? { fix: upgradeFix(pkg, fixed) as string } : {}),
          location: {
            ...(fileLoc ? { file: fileLoc } : {}),
            ...(fileLoc && line ? { line } : {}),
            resource,
            path: installed ? `${pkg}@${installed}` : pkg,
          },
          details: {
            kind: "vulnerability",
            class: cls,
            target,
            type: null,
            package: pkg,
            installed,
            fixed,
            // SARIF carries no status: a fixed version is what Trivy's "fixed" means.
            status: fixed ? "fixed" : null,
            cvss,
            primaryUrl,
            trivySeverity: trivy,
            ...(isImage && artifactName ? { image: artifactName } : {}),
          },
        },
      });
    } else if (kind === "misconfiguration") {
      stats.misconfigurations++;
      const ruleId = misconfigRule(id);
      const message = fields.get("Message") ?? "";
      drafts.push({
        identity: ["misconfiguration", artifact, target, ruleId, message],
        finding: {
          rule: ruleId,
          severity,
          title: message || rule?.shortDescription?.text || ruleId,
          location: { ...(fileLoc ? { file: fileLoc } : {}), ...(fileLoc && line ? { line } : {}), resource },
          details: {
            kind: "misconfiguration",
            class: cls || "config",
            target,
            type: fields.get("Type") ?? null,
            check: rule?.shortDescription?.text ?? null,
            trivyId: id,
            avdId: null,
            primaryUrl,
            trivySeverity: trivy,
          },
        },
      });
    } else if (kind === "secret") {
      stats.secrets++;
      drafts.push({
        identity: ["secret", artifact, target, id],
        finding: {
          rule: id,
          severity,
          title: `${fields.get("Secret") || rule?.shortDescription?.text || id} (value redacted)`,
          fix: "remove the secret from the source and the image, then rotate it",
          location: { ...(fileLoc ? { file: fileLoc } : {}), ...(line ? { line } : {}), resource },
          details: { kind: "secret", class: "secret", target, category: null, trivySeverity: trivy },
        },
      });
    } else {
      stats.licenses++;
      const name = fields.get("License") ?? id.slice(id.indexOf(":") + 1);
      const pkg = fields.get("PkgName") ?? "";
      drafts.push({
        identity: ["license", artifact, fields.get("Path") || target, pkg, name],
        finding: {
          rule: name,
          severity,
          title: pkg ? `${pkg} is under ${name}` : `${target} is under ${name}`,
          location: { ...(fileLoc ? { file: fileLoc } : {}), resource, ...(pkg ? { path: pkg } : {}) },
          details: {
            kind: "license",
            class: "license",
            target,
            package: pkg || null,
            category: fields.get("Classification") ?? null,
            primaryUrl,
            trivySeverity: trivy,
          },
        },
      });
    }
  });
  stats.results = targets.size;
  return {
    format: "sarif",
    ...(artifactName ? { artifactName, artifactType: "container_image" } : {}),
    ...(driver.version ? { trivyVersion: driver.version } : {}),
    findings: fingerprinted(drafts),
    stats,
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * Offset of the first JSON syntax error in `s` (V8's messages give no position for most errors).
 * Only run after JSON.parse failed; iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(s: string): number {
  const n = s.length;
  let i = 0;
  const stack: ("o" | "a")[] = [];
  type Expect = "value" | "valueOrClose" | "keyOrClose" | "key" | "colon" | "commaOrClose" | "end";
  let expect = "value" as Expect;
  const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  const afterValue = () => {
    expect = stack.length === 0 ? "end" : "commaOrClose";
  };
  const string = (): number => {
    i++;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return -1;
      }
      if (c < 0x20) return i;
      if (c === 0x5c) {
        const e = s[i + 1];
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) return i;
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return i;
      } else i++;
    }
    return n;
  };
  for (;;) {
    while (i < n && " \t\n\r".includes(s[i] as string)) i++;
    if (i >= n) return expect === "end" ? 0 : n;
    const c = s[i] as string;
    switch (expect) {
      case "end":
        return i;
      case "colon":
        if (c !== ":") return i;
        i++;
        expect = "value";
        continue;
      case "commaOrClose": {
        const top = stack[stack.length - 1];
        if (c === ",") {
          i++;
          expect = top === "o" ? "key" : "value";
        } else if ((c === "}" && top === "o") || (c === "]" && top === "a")) {
          i++;
          stack.pop();
          afterValue();
        } else return i;
        continue;
      }
      case "keyOrClose":
      case "key":
        if (c === "}" && expect === "keyOrClose") {
          i++;
          stack.pop();
          afterValue();
          continue;
        }
        if (c !== '"') return i;
        {
          const bad = string();
          if (bad >= 0) return bad;
        }
        expect = "colon";
        continue;
      case "value":
      case "valueOrClose":
        if (c === "]" && expect === "valueOrClose") {
          i++;
          stack.pop();
          afterValue();
        } else if (c === "{") {
          i++;
          stack.push("o");
          expect = "keyOrClose";
        } else if (c === "[") {
          i++;
          stack.push("a");
          expect = "valueOrClose";
        } else if (c === '"') {
          const bad = string();
          if (bad >= 0) return bad;
          afterValue();
        } else {
          const literal = ["true", "false", "null"].find((l) => s.startsWith(l, i));
          if (literal) i += literal.length;
          else {
            number.lastIndex = i;
            const m = number.exec(s);
            if (!m) return i;
            i += m[0].length;
          }
          afterValue();
        }
        continue;
    }
  }
}

/** `file:line:column` of a JSON.parse failure. */
function jsonErrorWhere(text: string, file: string): { where: string; message: string } {
  const offset = jsonErrorOffset(text);
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - (before.lastIndexOf("\n") + 1) + 1;
  const found = offset >= text.length ? "the input ends early" : `unexpected ${JSON.stringify(text[offset])}`;
  // V8's own message is not used: it quotes the input and mostly has no position.
  return { where: `${file}:${line}:${column}`, message: `not valid JSON: ${found}` };
}

/**
 * Parses a Trivy report (JSON SchemaVersion 2, or SARIF 2.1.0 from Trivy) into findings.
 * `file` names the report in errors. Throws Invalid saying what is wrong and where.
 */
export function parseTrivyReport(text: string, file: string): TrivyReport {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    const { where, message } = jsonErrorWhere(body, file);
    throw new Invalid(message, where);
  }
  try {
    if (Array.isArray(doc))
      throw new Invalid(
        "a list at the top level is Trivy's old report format (SchemaVersion 1): re-run a current Trivy with --format json",
        file,
      );
    if (doc === null || typeof doc !== "object")
      throw new Invalid(
        "expected a Trivy JSON report (SchemaVersion 2) or a SARIF 2.1.0 log from Trivy",
        file,
      );
    const record = doc as Record<string, unknown>;
    if ("runs" in record || ("version" in record && !("SchemaVersion" in record))) {
      if (record["version"] !== "2.1.0")
        throw new Invalid(
          `SARIF version ${JSON.stringify(record["version"] ?? null)} is not supported: expected 2.1.0`,
          file,
        );
      return fromSarif(record, file);
    }
    return fromJson(record, file);
  } catch (error) {
    if (error instanceof Invalid) throw error;
    // Anything else means input shaped in a way nobody planned for: still the report's fault.
    throw new Invalid(`cannot read the report (${error instanceof Error ? error.name : "error"})`, file);
  }
}
