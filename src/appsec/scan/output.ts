// Renders one ScanResult for people (table) or machines (JSON, SARIF, JUnit, GitLab reports), and
// decides the gate: the same result drives the terminal, CI annotations and the exit code.
import { toGitlabReport } from "./gitlab.ts";
import { toJUnit } from "./junit.ts";
import { toSarif } from "./sarif.ts";
import {
  type Finding,
  type FindingLocation,
  type ScanResult,
  type ScanSeverity,
  scanSeverities,
  severityAtLeast,
} from "./types.ts";

export const outputFormats = ["table", "json", "sarif", "junit", "gitlab"] as const;
export type OutputFormat = (typeof outputFormats)[number];

export interface RenderOptions {
  /** ANSI colours in the table; only when asked (a terminal, `--color`). */
  color?: boolean;
  /** Rampart's version, written into SARIF and GitLab reports. */
  toolVersion?: string;
}

/** Counts of unsuppressed findings by severity, and of suppressed ones. */
export interface FindingCounts {
  total: number;
  bySeverity: Record<ScanSeverity, number>;
  suppressed: number;
}

/** How many findings the result holds, by severity (unsuppressed) and suppressed. */
export function countFindings(result: ScanResult): FindingCounts {
  const bySeverity = Object.fromEntries(scanSeverities.map((s) => [s, 0])) as Record<ScanSeverity, number>;
  let suppressed = 0;
  for (const f of result.findings) {
    if (f.suppressed) suppressed++;
    else bySeverity[f.severity]++;
  }
  return { total: result.findings.length - suppressed, bySeverity, suppressed };
}

/** `N findings (c critical, h high, …), S suppressed`. */
export function summaryLine(result: ScanResult): string {
  const c = countFindings(result);
  const parts = [...scanSeverities].reverse().map((s) => `${c.bySeverity[s]} ${s}`);
  return `${c.total} finding${c.total === 1 ? "" : "s"} (${parts.join(", ")}), ${c.suppressed} suppressed`;
}

/** 1 when any unsuppressed finding is at least `failOn`, else 0. */
export function gateExit(result: ScanResult, failOn: ScanSeverity): 0 | 1 {
  return result.findings.some((f) => !f.suppressed && severityAtLeast(f.severity, failOn)) ? 1 : 0;
}

/** Where a finding is, in one short string: `file:line[:col]`, else `resource path`. */
export function formatLocation(l: FindingLocation): string {
  const parts: string[] = [];
  if (l.file) parts.push(`${l.file}${l.line ? `:${l.line}${l.column ? `:${l.column}` : ""}` : ""}`);
  if (l.resource) parts.push(l.resource);
  if (l.path) parts.push(l.path);
  return parts.join(" ") || "-";
}

/** The result in `format`, ready to print or write to a file. */
export function renderResult(result: ScanResult, format: OutputFormat, o: RenderOptions = {}): string {
  const version = o.toolVersion ?? "0.0.0";
  switch (format) {
    case "table":
      return renderTable(result, o.color === true);
    case "json":
      return `${JSON.stringify(orderedResult(result), null, 2)}\n`;
    case "sarif":
      return `${JSON.stringify(toSarif(result, version), null, 2)}\n`;
    case "junit":
      return toJUnit(result);
    case "gitlab":
      return `${JSON.stringify(toGitlabReport(result, version), null, 2)}\n`;
  }
}

// Keys in one documented order, whatever order the scanner built them in: diffs of stored reports stay small.
function orderedResult(r: ScanResult): ScanResult {
  return {
    kind: r.kind,
    target: r.target,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    stats: sortKeys(r.stats),
    findings: r.findings.map(orderedFinding),
  };
}

function orderedFinding(f: Finding): Finding {
  const l = f.location;
  const location: FindingLocation = {};
  if (l.file !== undefined) location.file = l.file;
  if (l.line !== undefined) location.line = l.line;
  if (l.column !== undefined) location.column = l.column;
  if (l.resource !== undefined) location.resource = l.resource;
  if (l.path !== undefined) location.path = l.path;
  // Optional keys land between the required ones, always in the same places.
  return {
    rule: f.rule,
    severity: f.severity,
    title: f.title,
    ...(f.fix !== undefined ? { fix: f.fix } : {}),
    location,
    fingerprint: f.fingerprint,
    ...(f.references !== undefined ? { references: f.references } : {}),
    ...(f.details !== undefined ? { details: sortKeys(f.details) } : {}),
    ...(f.suppressed !== undefined
      ? {
          suppressed: {
            by: f.suppressed.by,
            ...(f.suppressed.reason !== undefined ? { reason: f.suppressed.reason } : {}),
            ...(f.suppressed.expires !== undefined ? { expires: f.suppressed.expires } : {}),
          },
        }
      : {}),
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const COLOURS: Record<ScanSeverity, string> = {
  critical: "\x1b[1;35m",
  high: "\x1b[31m",
  medium: "\x1b[33m",
  low: "\x1b[36m",
  info: "\x1b[2m",
};
const RESET = "\x1b[0m";
const MAX = { rule: 32, location: 60, title: 70, fix: 60 } as const;

// Long cells end in an ellipsis so one long title does not push every column off the screen.
function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, " ").trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}

function renderTable(result: ScanResult, color: boolean): string {
  const bySeverity = (a: Finding, b: Finding) =>
    scanSeverities.indexOf(b.severity) - scanSeverities.indexOf(a.severity) || a.rule.localeCompare(b.rule);
  const open = result.findings.filter((f) => !f.suppressed).sort(bySeverity);
  const suppressed = result.findings.filter((f) => f.suppressed).sort(bySeverity);
  const row = (f: Finding) => [
    f.severity,
    clip(f.rule, MAX.rule),
    clip(formatLocation(f.location), MAX.location),
    clip(f.title, MAX.title),
    clip(
      f.suppressed
        ? `suppressed by ${f.suppressed.by}${f.suppressed.reason ? `: ${f.suppressed.reason}` : ""}`
        : (f.fix ?? ""),
      MAX.fix,
    ),
  ];
  const header = ["SEVERITY", "RULE", "LOCATION", "TITLE", "FIX"];
  const rows = [...open, ...suppressed].map(row);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[], sev?: ScanSeverity) => {
    const text = cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
    if (!color || !sev) return text;
    const first = (cells[0] ?? "").padEnd(widths[0] ?? 0);
    return `${COLOURS[sev]}${first}${RESET}${text.slice(first.length)}`;
  };
  const out: string[] = [`rampart scan ${result.kind}: ${result.target}`];
  if (rows.length > 0) {
    out.push("", line(header));
    let group: string | undefined;
    for (const f of [...open, ...suppressed]) {
      const g = f.suppressed ? "suppressed" : f.severity;
      if (g !== group) {
        const n = f.suppressed ? suppressed.length : open.filter((x) => x.severity === f.severity).length;
        out.push(`-- ${g} (${n})`);
        group = g;
      }
      out.push(line(row(f), f.suppressed ? undefined : f.severity));
    }
  }
  out.push("", summaryLine(result));
  return `${out.join("\n")}\n`;
}
