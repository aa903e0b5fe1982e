// Output of a least-privilege analysis, the same for every platform: a terminal table, JSON,
// Markdown, and the proposal + rollback files a platform module lays out.
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import type { IamAnalysisReport, PrincipalAnalysis, RiskFlags } from "./types.ts";

/** The output formats of `rampart iam … analyze`. */
export const IAM_FORMATS = ["table", "json", "markdown"] as const;
/** One of IAM_FORMATS. */
export type IamFormat = (typeof IAM_FORMATS)[number];

/** A file to write for a principal: a proposed policy, or the original to roll back to. */
export interface ProposalFile {
  principal: string;
  kind: "proposed" | "rollback";
  /** Relative to the output directory. */
  path: string;
  content: string;
}

const CATEGORIES: { key: keyof RiskFlags; label: string }[] = [
  { key: "privesc", label: "privilege escalation" },
  { key: "credentialsExposure", label: "credentials exposure" },
  { key: "dataAccess", label: "data access" },
  { key: "resourceExposure", label: "resource exposure" },
];

/** The risky permissions the proposal no longer grants, by category. */
export function riskRemoved(a: PrincipalAnalysis): RiskFlags {
  const out = { privesc: [], dataAccess: [], credentialsExposure: [], resourceExposure: [] } as RiskFlags;
  for (const { key } of CATEGORIES) {
    const after = new Set(a.risk.after[key]);
    out[key] = a.risk.before[key].filter((p) => !after.has(p));
  }
  return out;
}

/** Services (the part before the first `:` or `.`) with and without any used permission. */
export function services(a: PrincipalAnalysis): { used: string[]; unused: string[] } {
  const svc = (p: string) => p.split(/[:.]/)[0] ?? p;
  const used = new Set(a.used.map((u) => svc(u.permission)));
  const unused = new Set(a.unused.map(svc).filter((s) => !used.has(s)));
  return { used: [...used].sort(), unused: [...unused].sort() };
}

const pad = (s: string, n: number) => (s.length >= n ? s : s + " ".repeat(n - s.length));
const padStart = (s: string, n: number) => (s.length >= n ? s : " ".repeat(n - s.length) + s);
// Names in logs are attacker-influenced text: no control characters reach the terminal.
const clean = (s: string) => s.replace(/[\p{Cc}\p{Cf}]/gu, "?");

function riskSummary(r: RiskFlags): string {
  const parts = CATEGORIES.filter(({ key }) => r[key].length > 0).map(
    ({ key, label }) => `${label} ${r[key].length}`,
  );
  return parts.length > 0 ? parts.join(", ") : "none";
}

function verified(a: PrincipalAnalysis): string {
  const v = a.verification.proposed;
  return v.denied.length === 0
    ? `${v.allowed}/${v.replayed} allowed`
    : `${v.denied.length} DENIED of ${v.replayed}`;
}

function heading(r: IamAnalysisReport): string {
  const skipped = Object.entries(r.events.skipped)
    .map(([why, n]) => `${n} ${why}`)
    .join(", ");
  return `${r.platform.toUpperCase()} least privilege, ${r.window.from || "?"} → ${r.window.to || "?"}: ${r.events.read} events read, ${r.events.inWindow} in the window${skipped ? ` (skipped: ${skipped})` : ""}`;
}

/** The terminal table: one row per principal, then what needs a human's eye. */
export function formatTable(r: IamAnalysisReport): string {
  const rows = r.principals.map((a) => [
    clean(a.principal),
    String(a.used.length),
    String(a.unused.length),
    `${a.effective.before}→${a.effective.after}`,
    `${a.reductionPercent.toFixed(1)}%`,
    riskSummary(riskRemoved(a)),
    verified(a),
  ]);
  const head = ["principal", "used", "unused", "granted", "reduction", "risk removed", "replay"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i >= 1 && i <= 4 ? padStart(c, widths[i] as number) : pad(c, widths[i] as number)))
      .join("  ")
      .trimEnd();
  const out = [heading(r), "", line(head), ...rows.map(line)];
  if (r.principals.length === 0) out.push("(no principal to analyse)");
  for (const a of r.principals) {
    const extra: string[] = [];
    if (a.denied.length > 0)
      extra.push(
        `  tried and refused (not proposed): ${a.denied.map((d) => `${clean(d.permission)} ×${d.count}`).join(", ")}`,
      );
    if (a.usedNotGranted.length > 0)
      extra.push(`  used but granted elsewhere: ${a.usedNotGranted.map(clean).join(", ")}`);
    if (a.verification.proposed.denied.length > 0)
      extra.push(
        `  REPLAY DENIED (do not apply): ${a.verification.proposed.denied.map((d) => `${clean(d.permission)} ${clean(d.resource ?? "*")}: ${d.reason}`).join("; ")}`,
      );
    for (const n of a.notes) extra.push(`  note: ${clean(n)}`);
    if (extra.length > 0) out.push("", clean(a.principal), ...extra);
  }
  for (const n of r.notes) out.push("", `note: ${clean(n)}`);
  return out.join("\n");
}

/** The whole report as JSON. */
export function formatJson(r: IamAnalysisReport): string {
  return JSON.stringify(r, null, 2);
}

const md = (s: string) => clean(s).replace(/([\\`*_|<>[\]])/g, "\\$1");

/** A Markdown report: a summary table, then a section per principal with its proposal. */
export function formatMarkdown(r: IamAnalysisReport): string {
  const out = [
    `# Least-privilege analysis (${r.platform.toUpperCase()})`,
    "",
    `Window: ${r.window.from || "?"} → ${r.window.to || "?"}. Events read: ${r.events.read}; in the window: ${r.events.inWindow}.`,
    "",
    "| principal | used | unused | granted before → after | reduction | risk removed | replay |",
    "|---|---:|---:|---:|---:|---|---|",
    ...r.principals.map(
      (a) =>
        `| ${md(a.principal)} | ${a.used.length} | ${a.unused.length} | ${a.effective.before} → ${a.effective.after} | ${a.reductionPercent.toFixed(1)}% | ${riskSummary(riskRemoved(a))} | ${verified(a)} |`,
    ),
  ];
  for (const a of r.principals) {
    const s = services(a);
    const removed = riskRemoved(a);
    out.push("", `## ${md(a.principal)}`, "");
    out.push(`- Used services (${s.used.length}): ${s.used.map(md).join(", ") || "none"}`);
    out.push(
      `- Unused services (${s.unused.length}): ${s.unused.slice(0, 40).map(md).join(", ") || "none"}${s.unused.length > 40 ? ", …" : ""}`,
    );
    out.push(
      `- Used permissions (${a.used.length}): ${a.used.map((u) => `${md(u.permission)} ×${u.count}`).join(", ") || "none"}`,
    );
    for (const { key, label } of CATEGORIES)
      if (removed[key].length > 0)
        out.push(
          `- Removed ${label} (${removed[key].length}): ${removed[key].slice(0, 30).map(md).join(", ")}${removed[key].length > 30 ? ", …" : ""}`,
        );
    for (const { key, label } of CATEGORIES)
      if (a.risk.after[key].length > 0)
        out.push(`- Still granted, ${label}: ${a.risk.after[key].map(md).join(", ")}`);
    if (a.denied.length > 0)
      out.push(
        `- Tried and refused (not proposed): ${a.denied.map((d) => `${md(d.permission)} ×${d.count}`).join(", ")}`,
      );
    if (a.usedNotGranted.length > 0)
      out.push(`- Used but granted elsewhere: ${a.usedNotGranted.map(md).join(", ")}`);
    for (const n of a.notes) out.push(`- Note: ${md(n)}`);
    const v = a.verification.proposed;
    out.push(
      `- Replay of observed calls against the proposal: ${v.allowed} of ${v.replayed} allowed${v.denied.length > 0 ? `; **denied: ${v.denied.map((d) => md(`${d.permission} ${d.resource ?? "*"}`)).join(", ")}**` : ""}`,
    );
    out.push("", "Proposed:", "", "```json", JSON.stringify(a.proposed, null, 2), "```");
  }
  for (const n of r.notes) out.push("", `> ${md(n)}`);
  return out.join("\n") + "\n";
}

/** Renders a report in one of the formats. */
export function formatReport(r: IamAnalysisReport, format: IamFormat): string {
  return format === "json" ? formatJson(r) : format === "markdown" ? formatMarkdown(r) : formatTable(r);
}

/** A principal's name as a file or directory name: `arn:aws:iam::1:role/ci` → `arn_aws_iam__1_role_ci`. */
export function fileSafeName(principal: string): string {
  const s = principal.replace(/[^A-Za-z0-9._@-]+/g, "_").replace(/^[._]+/, "");
  return (s || "principal").slice(0, 200);
}

/** Writes the files under `dir` (created as needed) and returns their paths; never outside `dir`. */
export async function writeProposalFiles(dir: string, files: readonly ProposalFile[]): Promise<string[]> {
  const root = resolve(dir);
  const written: string[] = [];
  for (const f of files) {
    const path = resolve(join(root, f.path));
    if (!path.startsWith(root + sep)) throw new Error(`refusing to write outside ${root}: ${f.path}`);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.content.endsWith("\n") ? f.content : `${f.content}\n`);
    written.push(path);
  }
  return written;
}
