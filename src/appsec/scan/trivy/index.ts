// `rampart scan trivy REPORT`: a Trivy report through Rampart's policy — ignores with reasons and
// expiry, fixable-only gating, remediation SLAs from first seen — as one ScanResult.
import { readFileSync } from "node:fs";
import type { Clock } from "../../../platform/clock.ts";
import { Invalid } from "../../../platform/errors.ts";
import type { ScanResult } from "../types.ts";
import { applyIgnores, loadIgnores, type IgnoreRule } from "./ignore.ts";
import { parseTrivyReport } from "./parse.ts";
import { applyUnfixedPolicy } from "./policy.ts";
import {
  applySla,
  DEFAULT_SLA,
  type FirstSeenSource,
  readStateFile,
  type SlaDays,
  stateFirstSeen,
  writeStateFile,
} from "./sla.ts";

export {
  cvssSeverity,
  imageRepository,
  misconfigRule,
  parseTrivyReport,
  type TrivyFindingKind,
  type TrivyReport,
  trivySeverity,
} from "./parse.ts";
export {
  applyIgnores,
  type ExpiredIgnore,
  type IgnoreRule,
  ignoreEnd,
  type LoadedIgnores,
  loadIgnores,
  parseRampartIgnore,
  parseTrivyIgnore,
  rampartIgnoreSchema,
} from "./ignore.ts";
export { applyUnfixedPolicy, hasFix, NO_FIX_REASON, trivyGate, type TrivyGateOutcome } from "./policy.ts";
export {
  applySla,
  DEFAULT_SLA,
  type FirstSeen,
  type FirstSeenSource,
  parseSla,
  readStateFile,
  type SlaDays,
  stateFirstSeen,
  writeStateFile,
} from "./sla.ts";

export interface TrivyScanOptions {
  /** The report file (Trivy JSON or SARIF), as given on the command line. */
  report: string;
  /** Where `.rampartignore.yaml` and `.trivyignore` are looked for (default: process.cwd()). */
  cwd?: string;
  /** An explicit ignore file; it must exist. */
  ignoreFile?: string;
  /** Gate on vulnerabilities without a fix too (default: only fixable ones gate). */
  includeUnfixed?: boolean;
  sla?: Readonly<SlaDays>;
  /** A JSON file of fingerprint → first seen, created or updated (used when `firstSeen` is not given). */
  statePath?: string;
  /** First-seen times from the control plane; wins over `statePath`. */
  firstSeen?: FirstSeenSource;
  clock: Clock;
}

/** A Trivy scan's result and what the person running it should hear about (expired or unused ignores). */
export interface TrivyScanOutcome {
  result: ScanResult;
  warnings: string[];
  ignoreFiles: string[];
}

/** Reads, parses and applies the policy to a Trivy report; throws Invalid/ConfigError on bad input. */
export async function scanTrivyReport(o: TrivyScanOptions): Promise<TrivyScanOutcome> {
  const startedAt = o.clock.now();
  let text: string;
  try {
    text = readFileSync(o.report, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Invalid(code === "ENOENT" ? "report not found" : `cannot read the report (${code})`, o.report);
  }
  const report = parseTrivyReport(text, o.report);
  const ignores = loadIgnores({
    cwd: o.cwd ?? process.cwd(),
    ...(o.ignoreFile ? { ignoreFile: o.ignoreFile } : {}),
  });
  const now = o.clock.now();
  const ignored = applyIgnores(report.findings, ignores.rules, now);
  const gated = applyUnfixedPolicy(ignored.findings, o.includeUnfixed ?? false);

  let state: Map<string, string> | undefined;
  let source = o.firstSeen;
  if (!source && o.statePath) {
    state = readStateFile(o.statePath);
    source = stateFirstSeen(state, () => now);
  }
  const firstSeen = source ? await source(gated) : new Map<string, string>();
  const findings = applySla(gated, { sla: o.sla ?? DEFAULT_SLA, firstSeen, now });
  if (state && o.statePath) writeStateFile(o.statePath, state);

  const warnings: string[] = [];
  const describe = (r: IgnoreRule) => `${r.source} (${r.id})`;
  const expiredRules = new Set(ignored.expired.map((e) => e.rule));
  for (const r of expiredRules)
    warnings.push(`ignore ${describe(r)} expired on ${r.expires}: its findings gate again`);
  for (const r of ignored.unused) warnings.push(`ignore ${describe(r)} matched no finding: remove it?`);

  const suppressed = findings.filter((f) => f.suppressed);
  const result: ScanResult = {
    kind: "trivy",
    target: o.report,
    startedAt: startedAt.toISOString(),
    finishedAt: o.clock.now().toISOString(),
    findings,
    stats: {
      ...report.stats,
      findings: findings.length,
      suppressed: suppressed.length,
      ignored: suppressed.filter((f) => f.suppressed?.expires !== undefined).length,
      unfixed: suppressed.filter((f) => f.suppressed?.expires === undefined).length,
      expiredIgnores: expiredRules.size,
      slaBreached: findings.filter((f) => !f.suppressed && f.details?.["slaBreached"] === true).length,
    },
  };
  return { result, warnings, ignoreFiles: ignores.files };
}
