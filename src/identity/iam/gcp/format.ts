// Renders a GCP analysis for people: a terminal table, Markdown, and the binding diff.
import type { GcpAnalysis, GcpBindingChange, GcpMemberProposal } from "./analyze.ts";
import type { PrincipalAnalysis, RiskFlags } from "../types.ts";

function rolesBefore(p: PrincipalAnalysis): string[] {
  const o = p.original as { bindings: { role: string; condition?: { title?: string } }[] };
  return o.bindings.map((b) => b.role + (b.condition ? " (if)" : ""));
}

function rolesAfter(p: PrincipalAnalysis): string[] {
  const o = p.proposed as GcpMemberProposal;
  return o.bindings.map((b) => b.role + (b.condition ? " (if)" : ""));
}

function risk(r: RiskFlags): string {
  const parts: string[] = [];
  if (r.privesc.length) parts.push(`privesc ${r.privesc.length}`);
  if (r.credentialsExposure.length) parts.push(`creds ${r.credentialsExposure.length}`);
  if (r.dataAccess.length) parts.push(`data ${r.dataAccess.length}`);
  if (r.resourceExposure.length) parts.push(`exposure ${r.resourceExposure.length}`);
  return parts.join(", ") || "-";
}

interface Row {
  member: string;
  now: string;
  proposed: string;
  used: string;
  reduction: string;
  risk: string;
  replay: string;
}

function rows(a: GcpAnalysis): Row[] {
  return a.report.principals.map((p) => ({
    member: p.principal,
    now: rolesBefore(p).join(", "),
    proposed: rolesAfter(p).join(", ") || "(none)",
    used: `${p.used.length}/${p.effective.before}`,
    reduction: `${p.reductionPercent}% (${p.effective.before}→${p.effective.after})`,
    risk: `${risk(p.risk.before)} → ${risk(p.risk.after)}`,
    replay:
      p.verification.proposed.denied.length === 0
        ? `${p.verification.proposed.allowed}/${p.verification.proposed.replayed} ok`
        : `${p.verification.proposed.denied.length} DENIED`,
  }));
}

const HEAD: Row = {
  member: "member",
  now: "roles now",
  proposed: "proposed",
  used: "used/granted",
  reduction: "reduction",
  risk: "risk before → after",
  replay: "replay",
};

/** A plain-text table, one line per member, with the notes after it. */
export function gcpTable(a: GcpAnalysis): string {
  const all = [HEAD, ...rows(a)];
  const keys = Object.keys(HEAD) as (keyof Row)[];
  const width = Object.fromEntries(keys.map((k) => [k, Math.max(...all.map((r) => r[k].length))])) as Record<
    keyof Row,
    number
  >;
  const line = (r: Row): string =>
    keys
      .map((k) => r[k].padEnd(width[k]))
      .join("  ")
      .trimEnd();
  const out = [line(HEAD), keys.map((k) => "-".repeat(width[k])).join("  "), ...rows(a).map(line)];
  out.push(
    "",
    `window ${a.report.window.from || "-"} .. ${a.report.window.to || "-"}; ${a.report.events.read} entries read`,
  );
  for (const p of a.report.principals) for (const n of p.notes) out.push(`${p.principal}: ${n}`);
  for (const n of a.notes) out.push(`note: ${n}`);
  return out.join("\n") + "\n";
}

function md(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/** A Markdown report: summary table, per-member detail, binding changes and notes. */
export function gcpMarkdown(a: GcpAnalysis): string {
  const out = ["# GCP least-privilege analysis", ""];
  out.push(
    `Window ${a.report.window.from || "-"} .. ${a.report.window.to || "-"}, ${a.report.events.read} audit log entries read.`,
    "",
  );
  out.push("| member | roles now | proposed | used/granted | reduction | risk before → after | replay |");
  out.push("|---|---|---|---|---|---|---|");
  for (const r of rows(a))
    out.push(
      `| ${[r.member, r.now, r.proposed, r.used, r.reduction, r.risk, r.replay].map(md).join(" | ")} |`,
    );
  out.push("");
  for (const p of a.report.principals) {
    out.push(`## ${md(p.principal)}`, "");
    out.push(
      `Used (${p.used.length}): ${p.used.map((u) => `\`${u.permission}\` ×${u.count}`).join(", ") || "none observed"}`,
      "",
    );
    if (p.usedNotGranted.length)
      out.push(
        `Used, granted outside this policy: ${p.usedNotGranted.map((x) => `\`${x}\``).join(", ")}`,
        "",
      );
    if (p.denied.length)
      out.push(
        `Refused (not granted by the proposal): ${p.denied.map((d) => `\`${d.permission}\` ×${d.count}`).join(", ")}`,
        "",
      );
    const prop = p.proposed as GcpMemberProposal;
    for (const c of prop.covers)
      out.push(
        `Cover${c.condition ? ` under \`${md(c.condition.expression)}\`` : ""}: ${c.chose}; weighted ${c.weighted.roles.join(", ") || "-"} (excess ${c.weighted.excess}), plain greedy ${c.baseline.roles.join(", ") || "-"} (excess ${c.baseline.excess}).`,
        "",
      );
    out.push(`Unused: ${p.unused.length} permissions.`, "");
    for (const n of p.notes) out.push(`- ${n}`);
    if (p.notes.length) out.push("");
  }
  out.push("## Binding changes", "", "```diff", ...changeLines(a.changes), "```", "");
  out.push("## Notes", "", ...a.notes.map((n) => `- ${n}`));
  return out.join("\n") + "\n";
}

function changeLines(changes: readonly GcpBindingChange[]): string[] {
  return changes.map(
    (c) =>
      `${c.change === "add" ? "+" : "-"} ${c.role} ${c.member}${c.condition ? ` if ${c.condition.expression}` : ""}`,
  );
}

/** The binding changes as diff lines (`- role member`, `+ role member`). */
export function gcpBindingDiff(a: GcpAnalysis): string {
  return changeLines(a.changes).join("\n") + (a.changes.length ? "\n" : "");
}
