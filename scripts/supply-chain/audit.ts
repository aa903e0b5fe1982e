// npm audit gate: the runtime tree (`npm audit --omit=dev`) may not carry an advisory at or above
// the configured severity unless supply-chain.allow.yaml excuses it and the excuse has not expired.
// Advisories only in dev dependencies are reported for information: they never reach production.
import { z } from "zod";
import {
  type AdvisoryEntry,
  type Allowlist,
  type EntryHygiene,
  entryHygiene,
  isExpired,
} from "./allowlist.ts";
import { CannotRun, lastErrorLine, npmJson, runNpm, withoutUserinfo } from "./npm.ts";

export const SEVERITIES = ["info", "low", "moderate", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
const rank = (s: Severity): number => SEVERITIES.indexOf(s);

/** One advisory as npm reports it on one package. */
export interface Advisory {
  /** GHSA id when the URL carries one, else npm's numeric source id. */
  id: string;
  source: number;
  url: string;
  title: string;
  package: string;
  severity: Severity;
  /** Vulnerable versions. */
  range: string;
}

// npm audit --json, report version 2: `vulnerabilities` keyed by package; `via` holds the advisories
// themselves (objects) or the names of vulnerable dependencies the package is affected through.
const viaAdvisory = z.looseObject({
  source: z.number(),
  name: z.string(),
  title: z.string(),
  url: z.string(),
  severity: z.enum(SEVERITIES),
  range: z.string().optional(),
});
const auditReport = z.looseObject({
  auditReportVersion: z.literal(2),
  vulnerabilities: z.record(
    z.string(),
    z.looseObject({
      name: z.string(),
      severity: z.enum(SEVERITIES),
      via: z.array(z.union([z.string(), viaAdvisory])),
    }),
  ),
});

/** The advisories of an `npm audit --json` report; anything else (npm's error object) is CannotRun. */
export function advisoriesOf(report: unknown, what = "npm audit"): Advisory[] {
  const parsed = auditReport.safeParse(report);
  if (!parsed.success) {
    const r = (report ?? {}) as { message?: unknown; error?: { summary?: unknown; code?: unknown } };
    const why =
      typeof r.message === "string"
        ? r.message
        : typeof r.error?.summary === "string" && r.error.summary !== ""
          ? r.error.summary
          : typeof r.error?.code === "string"
            ? r.error.code
            : "not an audit report (auditReportVersion 2)";
    throw new CannotRun(`${what} could not reach the registry's audit endpoint: ${withoutUserinfo(why)}`);
  }
  const seen = new Map<string, Advisory>();
  for (const vuln of Object.values(parsed.data.vulnerabilities)) {
    for (const via of vuln.via) {
      if (typeof via === "string") continue; // affected through a dependency, listed under it
      const key = `${via.source}|${via.name}`;
      if (seen.has(key)) continue;
      const ghsa = /GHSA(-[a-z0-9]{4}){3}/i.exec(via.url)?.[0];
      seen.set(key, {
        id: ghsa ?? String(via.source),
        source: via.source,
        url: via.url,
        title: via.title,
        package: via.name,
        severity: via.severity,
        range: via.range ?? "",
      });
    }
  }
  return [...seen.values()].sort(
    (a, b) => rank(b.severity) - rank(a.severity) || a.package.localeCompare(b.package),
  );
}

/** Whether an allowlist entry names this advisory (GHSA id, URL or npm id) on this package. */
export function entryMatches(entry: AdvisoryEntry, advisory: Advisory): boolean {
  if (entry.package !== advisory.package) return false;
  const a = entry.advisory.toLowerCase();
  return (
    a === advisory.id.toLowerCase() ||
    a === advisory.url.toLowerCase() ||
    a === String(advisory.source) ||
    advisory.url.toLowerCase().endsWith(`/${a}`)
  );
}

export interface AuditResult {
  status: "pass" | "fail";
  level: Severity;
  /** Runtime advisories at or above `level` with no valid excuse: these fail the gate. */
  failing: Advisory[];
  /** Runtime advisories at or above `level` excused by an entry (file:line). */
  excused: (Advisory & { by: string; reason: string; expires: string })[];
  /** Runtime advisories below `level`. */
  below: Advisory[];
  /** Advisories in dev dependencies only: information. */
  devOnly: Advisory[];
  entries: EntryHygiene;
}

/** The gate on already-fetched advisories; pure, so it is tested on recorded reports. */
export function auditGate(
  runtime: readonly Advisory[],
  all: readonly Advisory[],
  allow: Allowlist,
  level: Severity,
  today: string,
): AuditResult {
  const used = new Set<AdvisoryEntry>();
  const failing: Advisory[] = [];
  const excused: AuditResult["excused"] = [];
  const below: Advisory[] = [];
  for (const adv of runtime) {
    const matching = allow.advisories.filter((e) => entryMatches(e, adv));
    for (const e of matching) used.add(e);
    if (rank(adv.severity) < rank(level)) {
      below.push(adv);
      continue;
    }
    const valid = matching.find((e) => !isExpired(e, today));
    if (valid) excused.push({ ...adv, by: valid.source, reason: valid.reason, expires: valid.expires });
    else failing.push(adv);
  }
  const runtimeKeys = new Set(runtime.map((a) => `${a.source}|${a.package}`));
  const devOnly = all.filter((a) => !runtimeKeys.has(`${a.source}|${a.package}`));
  const entries = entryHygiene(allow.advisories, used, today, (e) => `${e.advisory} on ${e.package}`);
  return { status: failing.length > 0 ? "fail" : "pass", level, failing, excused, below, devOnly, entries };
}

/** Runs `npm audit` on the runtime tree and on the whole tree, then applies the gate. */
export async function runAudit(
  root: string,
  allow: Allowlist,
  level: Severity,
  today: string,
): Promise<AuditResult> {
  const fetch = async (args: string[], what: string): Promise<Advisory[]> => {
    const result = await runNpm(["audit", "--json", ...args], root);
    if (result.stdout.trim() === "") {
      throw new CannotRun(
        `${what} printed nothing (exit ${result.code}): ${lastErrorLine(result.stderr) ?? "no error"}`,
      );
    }
    return advisoriesOf(npmJson(result, what), what);
  };
  const runtime = await fetch(["--omit=dev"], "npm audit --omit=dev");
  const all = await fetch([], "npm audit");
  return auditGate(runtime, all, allow, level, today);
}
