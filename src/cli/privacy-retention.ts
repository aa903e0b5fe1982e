// `rampart privacy retention run`: runs the data map's retention policies on the control plane
// now (or shows what a run would do with --dry-run) and prints what happened per policy.
import type { Command } from "commander";
import type { RetentionReport } from "../data/privacy/retention/index.ts";
import { apiFor, type Common, commonOptions, print } from "./access.ts";

export function retentionTable(r: RetentionReport): string {
  const head = ["policy", "candidates", "noticed", "waiting", "erased", "cancelled", "failed"];
  const rows = r.policies.map((p) => [
    p.policy,
    ...[p.candidates, p.noticed, p.waiting, p.erased, p.cancelled, p.failed].map(String),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((x) => (x[c] as string).length)));
  const fmt = (x: string[]) =>
    `  ${x.map((v, c) => (c === 0 ? v.padEnd(widths[c] as number) : v.padStart(widths[c] as number))).join("  ")}`;
  const out = [
    `retention ${r.dryRun ? "dry run (nothing changed)" : "run"} at ${r.startedAt.slice(0, 16).replace("T", " ")}`,
  ];
  if (r.policies.length === 0) return [...out, "  no retention policies in the data map"].join("\n");
  out.push(fmt(head), ...rows.map(fmt));
  for (const p of r.policies) {
    if (p.skipped) out.push(`  ${p.policy}: skipped: ${p.skipped}`);
    if (!p.complete && !p.skipped)
      out.push(`  ${p.policy}: more candidates than one run takes; the rest wait for the next`);
    for (const e of p.errors) out.push(`  ${p.policy}: ${e}`);
  }
  return out.join("\n");
}

/** Registers `retention …` on the `privacy` command. */
export function registerPrivacyRetentionCommands(privacy: Command): void {
  const retention = privacy
    .command("retention")
    .description("retention policies of the data map: inactivity notices, then erasure");

  commonOptions(retention.command("run"))
    .description("run every retention policy now")
    .option("--dry-run", "report what would happen; change, send and erase nothing")
    .action(async (o: Common & { dryRun?: boolean }) => {
      const r = await (
        await apiFor(o)
      )<RetentionReport>("POST", "/api/v1/privacy/retention/run", {
        dryRun: o.dryRun === true,
      });
      print(o, r, retentionTable(r));
      if (r.policies.some((p) => p.failed > 0)) process.exitCode = 1;
    });
}
