// Supply-chain gate: npm audit on the runtime tree, a licence check of the lockfile and a CycloneDX
// SBOM, with exceptions in supply-chain.allow.yaml. See docs/supply-chain.md.
// Usage: node scripts/supply-chain/run.ts [audit|licences|sbom|all]… [--json] [--audit-level high]
//          [--allow FILE] [--out sbom.cdx.json] [--root DIR] [--today YYYY-MM-DD]
// Exit: 0 pass, 1 a gate failed, 2 a part could not run (npm or the audit endpoint unreachable,
// malformed allowlist or lockfile).
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../../src/config/errors.ts";
import { type Allowlist, type EntryHygiene, loadAllowlist, utcDay } from "./allowlist.ts";
import { type AuditResult, runAudit, SEVERITIES, type Severity } from "./audit.ts";
import { type LicenceResult, licenceGate } from "./licences.ts";
import { readLockfile } from "./lockfile.ts";
import { CannotRun } from "./npm.ts";
import { runSbom, type SbomResult } from "./sbom.ts";

const USAGE = `Usage: node scripts/supply-chain/run.ts [audit|licences|sbom|all]... [options]
  --json                 the result as JSON
  --audit-level LEVEL    info, low, moderate, high (default) or critical
  --allow FILE           allowlist (default supply-chain.allow.yaml)
  --out FILE             SBOM file (default sbom.cdx.json)
  --root DIR             project directory (default the current directory)
  --today YYYY-MM-DD     date for allowlist expiry (default today, UTC)
Exit: 0 pass, 1 a gate failed, 2 a part could not run. See docs/supply-chain.md.`;

const PARTS = ["audit", "licences", "sbom"] as const;
type Part = (typeof PARTS)[number];
type Outcome<T> = { status: "pass" | "fail"; result: T } | { status: "error"; error: string };

export interface RunOptions {
  parts: Part[];
  root: string;
  allowFile: string;
  out: string;
  level: Severity;
  today: string;
}

export interface RunReport {
  exitCode: 0 | 1 | 2;
  audit?: Outcome<AuditResult>;
  licences?: Outcome<LicenceResult>;
  sbom?: Outcome<SbomResult>;
}

async function attempt<T extends { status: "pass" | "fail" }>(
  work: () => T | Promise<T>,
): Promise<Outcome<T>> {
  try {
    const result = await work();
    return { status: result.status, result };
  } catch (err) {
    if (err instanceof CannotRun || err instanceof ConfigError)
      return { status: "error", error: err.message };
    throw err;
  }
}

/** Runs the chosen parts; each is independent, so one that cannot run does not hide the others. */
export async function runSupplyChain(opts: RunOptions): Promise<RunReport> {
  const report: RunReport = { exitCode: 0 };
  let allow: Allowlist | undefined;
  const allowlist = (): Allowlist =>
    (allow ??= loadAllowlist(opts.allowFile, relative(opts.root, opts.allowFile)));
  const lockFile = resolve(opts.root, "package-lock.json");
  if (opts.parts.includes("audit")) {
    report.audit = await attempt(() => runAudit(opts.root, allowlist(), opts.level, opts.today));
  }
  if (opts.parts.includes("licences")) {
    report.licences = await attempt(() => licenceGate(readLockfile(lockFile), allowlist(), opts.today));
  }
  if (opts.parts.includes("sbom")) {
    report.sbom = await attempt(() => {
      const name = (JSON.parse(readFileSync(resolve(opts.root, "package.json"), "utf8")) as { name?: string })
        .name;
      return runSbom(opts.root, readLockfile(lockFile), opts.out, name);
    });
  }
  const outcomes = [report.audit, report.licences, report.sbom].filter((o) => o !== undefined);
  // A failed gate is the definite answer; "could not run" only when nothing failed.
  report.exitCode = outcomes.some((o) => o.status === "fail")
    ? 1
    : outcomes.some((o) => o.status === "error")
      ? 2
      : 0;
  return report;
}

function hygiene(lines: string[], entries: EntryHygiene): void {
  for (const e of entries.expired)
    lines.push(`  expired  ${e.source} ${e.what}: ran out on ${e.expires}, remove or renew it`);
  for (const e of entries.unused) lines.push(`  unused   ${e.source} ${e.what}: matches nothing, remove it`);
}

/** The human summary. */
export function summary(report: RunReport): string {
  const lines: string[] = [];
  const head = (name: string, o: Outcome<unknown>) =>
    lines.push(`${name}: ${o.status === "error" ? `CANNOT RUN: ${o.error}` : o.status.toUpperCase()}`);
  if (report.audit) {
    head("npm audit (runtime tree)", report.audit);
    if (report.audit.status !== "error") {
      const r = report.audit.result;
      lines.push(
        `  ${r.failing.length} failing at ${r.level} or above, ${r.excused.length} excused, ${r.below.length} below ${r.level}, ${r.devOnly.length} in dev dependencies only (information)`,
      );
      for (const a of r.failing)
        lines.push(`  FAIL     ${a.severity} ${a.package} ${a.range} ${a.id}: ${a.title} (${a.url})`);
      for (const a of r.excused)
        lines.push(
          `  excused  ${a.severity} ${a.package} ${a.id} by ${a.by} until ${a.expires}: ${a.reason}`,
        );
      for (const a of r.devOnly) lines.push(`  dev only ${a.severity} ${a.package} ${a.id}: ${a.title}`);
      hygiene(lines, r.entries);
    }
  }
  if (report.licences) {
    head("licences (runtime tree)", report.licences);
    if (report.licences.status !== "error") {
      const r = report.licences.result;
      lines.push(
        `  ${r.packages} packages: ${Object.entries(r.counts)
          .map(([l, n]) => `${l} ${n}`)
          .join(", ")}`,
      );
      for (const p of r.failing) lines.push(`  FAIL     ${p.package}@${p.version} "${p.licence}": ${p.why}`);
      for (const p of r.excused)
        lines.push(
          `  excused  ${p.package}@${p.version} "${p.licence}" by ${p.by} until ${p.expires}: ${p.reason}`,
        );
      hygiene(lines, r.entries);
    }
  }
  if (report.sbom) {
    head("sbom (CycloneDX, runtime tree)", report.sbom);
    if (report.sbom.status !== "error") {
      const r = report.sbom.result;
      lines.push(
        `  ${r.out}: CycloneDX ${r.specVersion}, ${r.components} components for ${r.runtimePackages} runtime packages`,
      );
      for (const m of r.missing.slice(0, 20)) lines.push(`  MISSING  ${m}`);
    }
  }
  lines.push(["passed", "FAILED", "could not run"][report.exitCode]!);
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        "audit-level": { type: "string", default: "high" },
        allow: { type: "string" },
        out: { type: "string" },
        root: { type: "string" },
        today: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (err) {
    console.error(`supply-chain: ${(err as Error).message}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const wanted = positionals.length === 0 ? ["all"] : positionals;
  const unknown = wanted.filter((p) => p !== "all" && !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    console.error(`supply-chain: unknown part ${unknown.join(", ")}: expected audit, licences, sbom or all`);
    return 2;
  }
  const level = values["audit-level"];
  if (!(SEVERITIES as readonly string[]).includes(level)) {
    console.error(`supply-chain: --audit-level ${level}: expected one of ${SEVERITIES.join(", ")}`);
    return 2;
  }
  const today = values.today ?? utcDay();
  if (!/^\d{4}-\d{2}-\d{2}$/.test(today)) {
    console.error(`supply-chain: --today ${today}: expected YYYY-MM-DD`);
    return 2;
  }
  const root = resolve(values.root ?? process.cwd());
  const parts = wanted.includes("all") ? [...PARTS] : PARTS.filter((p) => wanted.includes(p));
  const report = await runSupplyChain({
    parts,
    root,
    allowFile: resolve(root, values.allow ?? "supply-chain.allow.yaml"),
    out: resolve(root, values.out ?? "sbom.cdx.json"),
    level: level as Severity,
    today,
  });
  console.log(values.json ? JSON.stringify(report, null, 2) : summary(report));
  return report.exitCode;
}

if (import.meta.url === new URL(process.argv[1] ?? "", "file:").href) {
  process.exitCode = await main(process.argv.slice(2));
}
